#!/usr/bin/env python3
"""The database's own ceiling for one command, for bench/api.sh.

Reads a PostgreSQL server log in which `log_min_duration_statement = 0` caught
the one statement a `POST /api/v1/jobs` runs (`execute fsm_q_...: WITH ...`
followed by `DETAIL:  parameters: $1 = '...', ...`), and writes:

  OUT/command_fn.sql    a PL/pgSQL function bench_command(r1, r2) running that
                        exact statement with its plan cached (as fsm-web's
                        prepared statement is), the new job's ids made from r1
                        and r2 so every call creates a new job;
  OUT/command.pgbench   a pgbench script calling it once per transaction.

pgbench then measures what the database alone sustains for the command, with
no HTTP and no application in the way. Usage: command_ceiling.py LOG OUT
"""
import re
import sys


def quote(text):
    return "'" + text.replace("'", "''") + "'"


def main(log_path, out_dir):
    statement = params = None
    for line in open(log_path, encoding="utf-8", errors="replace"):
        m = re.search(r"execute fsm_q_[0-9a-f]+: (WITH .*INSERT INTO jobs.*)$", line)
        if m:
            statement, params = m.group(1), None
            continue
        if statement and params is None and "DETAIL:  parameters:" in line:
            params = dict(re.findall(r"\$(\d+) = '((?:[^']|'')*)'", line))
    if not statement or not params:
        sys.exit("command_ceiling.py: no logged POST /jobs statement in " + log_path)
    params = {k: v.replace("''", "'") for k, v in params.items()}
    stream_id = params["1"]
    event_id = re.search(r'"event_id": "([^"]+)"', params["4"]).group(1)
    job_id = "(lpad(to_hex(r1), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(r2), 12, '0'))"
    new_event_id = "(lpad(to_hex(r2), 8, '0') || '-1111-4000-8000-' || lpad(to_hex(r1), 12, '0'))"
    values = {k: quote(v) for k, v in params.items()}
    values["1"] = job_id
    values["4"] = "replace(%s, %s, %s)" % (quote(params["4"]), quote(event_id), new_event_id)
    # The row's JSON names the job's id (the stream's) too.
    for k, v in params.items():
        if k not in ("1", "4") and stream_id in v:
            values[k] = "replace(%s, %s, %s)" % (quote(v), quote(stream_id), job_id)
    body = re.sub(r"\$(\d+)", lambda m: values[m.group(1)], statement)
    with open(out_dir + "/command_fn.sql", "w", encoding="utf-8") as f:
        # The statement's answer: position, tx id, version, time, the row.
        f.write("CREATE OR REPLACE FUNCTION bench_command(r1 int, r2 int)\n"
                "RETURNS TABLE (o_position bigint, o_tx text, o_version int, o_at bigint, o_row text)\n"
                "LANGUAGE plpgsql AS $fn$\nBEGIN\n"
                "  RETURN QUERY " + body + ";\n"
                "  IF NOT FOUND THEN RAISE EXCEPTION 'the command wrote nothing'; END IF;\n"
                "END $fn$;\n")
    with open(out_dir + "/command.pgbench", "w", encoding="utf-8") as f:
        f.write("\\set r1 random(1, 2000000000)\n\\set r2 random(1, 2000000000)\n"
                "SELECT o_position FROM bench_command(:r1, :r2);\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
