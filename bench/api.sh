#!/usr/bin/env bash
# Commands and reads over HTTP against this machine's own limit, in one run:
#   1. pgbench: raw single-row INSERT TPS into an events-shaped table,
#      16 clients (the same concurrency as wrk below);
#   2. wrk POST /api/v1/jobs, 16 keep-alive connections: each request is a
#      whole command (session lookup, client share-lock, fold, decide, append,
#      project, read back, commit);
#   3. wrk GET /api/v1/jobs?limit=20 over at least 10,000 jobs;
#   4. pgbench running the statement one POST executes (taken from the server
#      log), the database alone: the ceiling any application could reach;
#   5. pgbench running the statements one GET of (3) executes, the same way;
# with p50/p99, the ratios of (2) to (4) and of (3) to (5) (the bars), the
# ratios to (1), and fsm-web's peak RSS under load.
# A private cluster with fsync on (production settings). Usage: bench/api.sh [SECONDS]
set -euo pipefail
source "$(dirname "$0")/../ops/lib/common.sh"
source "$(dirname "$0")/lib.sh"
cd "$FSM_ROOT"
secs=${1:-10}
conns=16

bench_setup
psql "$url" -q -f bench/sql/raw_events.sql

fsm_log "pgbench raw INSERT, $conns clients, ${secs}s"
pg_tps=$(pgbench -n -M prepared -c "$conns" -j 2 -T "$secs" -f bench/sql/raw_insert.sql "$url" 2>/dev/null |
  sed -nE 's/^tps = ([0-9.]+).*/\1/p' | head -1)
[ -n "$pg_tps" ] || fsm_die "pgbench failed"

password=$(head -c 18 /dev/urandom | base64)
echo "$password" | build/release/src/fsmctl --database-url "$url" account create \
  --name Bench --owner-email bench@ai-fsm.local --owner-name Bench >/dev/null
bench_start_web "$url" ${FSM_HTTP_WORKERS:+FSM_HTTP_WORKERS=$FSM_HTTP_WORKERS}
api="http://127.0.0.1:$bench_port/api/v1"
token=$(curl -sf "$api/auth/login" -H 'Content-Type: application/json' \
  -d "$(jq -n --arg p "$password" '{email: "bench@ai-fsm.local", password: $p}')" | jq -r .token)
auth="Authorization: Bearer $token"
client=$(curl -sf "$api/clients" -H "$auth" -H 'Content-Type: application/json' \
  -d '{"name": "Bench client"}' | jq -r .id)

cat >"$scratch/post_job.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"client_id": "$client", "title": "Replace boiler valve", "priority": "high"}'
LUA

fsm_log "wrk POST /api/v1/jobs, $conns connections, ${secs}s"
bench_rss_start
post_out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$scratch/post_job.lua" "$api/jobs")
jobs=$(psql "$url" -Atc "SELECT count(*) FROM jobs")
while [ "$jobs" -lt 10000 ]; do  # the read bar is over 10,000 jobs
  wrk -t2 -c"$conns" -d2s -s "$scratch/post_job.lua" "$api/jobs" >/dev/null
  jobs=$(psql "$url" -Atc "SELECT count(*) FROM jobs")
done
psql "$url" -qc "VACUUM ANALYZE"

fsm_log "wrk GET /api/v1/jobs?limit=20 over $jobs jobs, $conns connections, ${secs}s"
get_out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -H "$auth" "$api/jobs?limit=20")
bench_rss_stop

# The database alone on the page's own statements, as a GET in the steady
# state of (3) runs them (its session and, with no write since, its total
# are cached in fsm-web): a GET is logged after a marker line, turned into a
# pgbench script, and run at the same concurrency.
fsm_log "pgbench: the GET's own statements, database alone, $conns clients, ${secs}s"
curl -sf "$api/jobs?limit=20" -H "$auth" >/dev/null
psql "$url" -Atq -c "ALTER SYSTEM SET log_min_duration_statement = 0" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
psql "$url" -Atq -c "SELECT 'fsm-bench-read-marker'" >/dev/null
curl -sf "$api/jobs?limit=20" -H "$auth" >/dev/null
psql "$url" -Atq -c "ALTER SYSTEM RESET log_min_duration_statement" -c "SELECT pg_reload_conf()" >/dev/null
python3 bench/read_ceiling.py "$scratch/pg/server.log" fsm-bench-read-marker "$scratch"
psql "$url" -q -f "$scratch/read_fn.sql"
db_read_tps=$(pgbench -n -M prepared -c "$conns" -j 2 -T "$secs" -f "$scratch/read.pgbench" "$url" \
  2>"$scratch/read.err" | sed -nE 's/^tps = ([0-9.]+).*/\1/p' | head -1 || true)
[ -n "$db_read_tps" ] || fsm_die "pgbench of the page's statements failed: $(tail -3 "$scratch/read.err")"

# The database alone on the command's own statement: one POST logged, its
# statement and parameters turned into a pgbench script (plan cached, as the
# prepared statement is), run at the same concurrency. No application can
# take commands faster than this. (Last: it adds jobs to the table read above.)
fsm_log "pgbench: the POST's own statement, database alone, $conns clients, ${secs}s"
psql "$url" -Atq -c "ALTER SYSTEM SET log_min_duration_statement = 0" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
curl -sf "$api/jobs" -H "$auth" -H 'Content-Type: application/json' \
  -d "{\"client_id\": \"$client\", \"title\": \"Logged\", \"priority\": \"high\"}" >/dev/null
psql "$url" -Atq -c "ALTER SYSTEM RESET log_min_duration_statement" -c "SELECT pg_reload_conf()" >/dev/null
python3 bench/command_ceiling.py "$scratch/pg/server.log" "$scratch"
psql "$url" -q -f "$scratch/command_fn.sql"
db_cmd_tps=$(pgbench -n -M prepared -c "$conns" -j 2 -T "$secs" -f "$scratch/command.pgbench" "$url" \
  2>/dev/null | sed -nE 's/^tps = ([0-9.]+).*/\1/p' | head -1)
[ -n "$db_cmd_tps" ] || fsm_die "pgbench of the command's statement failed"

post=$(wrk_json "$post_out")
get=$(wrk_json "$get_out")
jq -n --argjson pg "$pg_tps" --argjson post "$post" --argjson get "$get" --argjson jobs "$jobs" \
  --argjson rss "$(bench_rss_peak_mb)" --argjson db_cmd "$db_cmd_tps" \
  --argjson db_read "$db_read_tps" '{
  pgbench_insert_tps: $pg,
  post_jobs: $post,
  ratio_post_jobs_to_pgbench: ($post.req_per_s / $pg),
  pgbench_command_statement_tps: $db_cmd,
  ceiling_ratio_database_alone: ($db_cmd / $pg),
  post_jobs_vs_database_alone: ($post.req_per_s / $db_cmd),
  get_jobs_limit20: ($get + {jobs_in_table: $jobs}),
  pgbench_page_statements_tps: $db_read,
  get_jobs_vs_database_alone: ($get.req_per_s / $db_read),
  rss_peak_under_load_mb: $rss,
  bars: {post_jobs_vs_database_alone: ">= 0.80", get_jobs_vs_database_alone: ">= 0.80",
         get_p99_ms: "< 20", rss_mb: "< 48"}
}'
