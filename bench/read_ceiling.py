#!/usr/bin/env python3
"""The database's own ceiling for one page read, for bench/api.sh.

Reads a PostgreSQL server log in which `log_min_duration_statement = 0` caught
what one `GET /api/v1/jobs?limit=20` runs after the line carrying MARKER
(`execute fsm_q_...: SELECT ...` followed by `DETAIL:  parameters: ...`), and
writes OUT/read_fn.sql, a PL/pgSQL function bench_read() running those
statements with their parameters (plans cached, as fsm-web's prepared
statements are; a function, because pgbench would read the `:MI` of a
to_char format as a variable), and OUT/read.pgbench calling it once per
transaction, which fetches every row, as fsm-web does: the same bytes leave
the database in both measurements. Usage: read_ceiling.py LOG MARKER OUT
"""
import re
import sys


def quote(text):
    return "'" + text.replace("'", "''") + "'"


def main(log_path, marker, out_dir):
    statements = []
    seen_marker = False
    pending = None
    for line in open(log_path, encoding="utf-8", errors="replace"):
        if marker in line:
            seen_marker, statements, pending = True, [], None
            continue
        if not seen_marker:
            continue
        m = re.search(r"execute fsm_q_[0-9a-f]+: (SELECT .*)$", line)
        if m:
            pending = m.group(1)
            statements.append([pending, {}])
            continue
        if pending and "DETAIL:  parameters:" in line:
            params = dict(re.findall(r"\$(\d+) = '((?:[^']|'')*)'", line))
            statements[-1][1] = {k: v.replace("''", "'") for k, v in params.items()}
            pending = None
    # Only the page's own statements (the session lookup is cached in-process).
    page = [s for s in statements if "FROM jobs" in s[0] or "jobs " in s[0]]
    if not page:
        sys.exit("read_ceiling.py: no logged GET /jobs statement after the marker in " + log_path)
    with open(out_dir + "/read_fn.sql", "w", encoding="utf-8") as f:
        # Every statement's rows are produced in full (RETURN QUERY) and sent.
        f.write("CREATE OR REPLACE FUNCTION bench_read() RETURNS SETOF record\n"
                "LANGUAGE plpgsql AS $fn$\nBEGIN\n")
        for sql, params in page:
            body = re.sub(r"\$(\d+)", lambda m: quote(params[m.group(1)]), sql)
            f.write("  RETURN QUERY " + body.rstrip(";") + ";\n")
        f.write("END $fn$;\n")
    columns = ", ".join("c%d text" % i for i in range(page[0][0].count("::text") or 1))
    with open(out_dir + "/read.pgbench", "w", encoding="utf-8") as f:
        f.write("SELECT * FROM bench_read() AS r(%s);\n" % columns)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
