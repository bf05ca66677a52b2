#!/usr/bin/env bash
# Append throughput against the machine's own limit, in one run:
#   1. pgbench: raw single-row INSERT TPS into a table shaped like `events`
#      (same columns and indexes), 8 clients, autocommit;
#   2. PgEventStore.append: single-event commits from 8 clients;
#   3. PgEventStore.append: batches of 10 events per commit from 8 clients.
# Prints each rate and the ratio to pgbench. Uses DATABASE_URL if set (it
# creates and drops a scratch database there), else a private cluster with
# fsync on (production settings). Usage: bench/append.sh [SECONDS]
set -euo pipefail
source "$(dirname "$0")/../ops/lib/common.sh"
cd "$FSM_ROOT"
secs=${1:-10}
clients=8

fsm_install_packages "${FSM_APT_PACKAGES[@]}"
fsm_build build/release Release -DFSM_BUILD_TESTS=OFF -DFSM_BUILD_BENCH=ON >&2

scratch=""
cleanup() { [ -n "$scratch" ] && { fsm_pg_stop "$scratch/pg"; rm -rf "$scratch"; }; }
trap cleanup EXIT
if [ -z "${DATABASE_URL:-}" ]; then
  scratch=$(mktemp -d -t fsm-bench-XXXXXX)
  fsm_pg_start "$scratch/pg"
  admin=$(fsm_pg_url postgres)
else
  admin=$DATABASE_URL
fi
db=fsm_bench_$$
psql "$admin" -qc "CREATE DATABASE $db" >/dev/null
url=$(echo "$admin" | sed -E "s#/[^/?]*(\?|$)#/$db\1#")
trap 'psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null; cleanup' EXIT
build/release/src/fsmctl --database-url "$url" migrate >/dev/null

psql "$url" -q -f bench/sql/raw_events.sql

fsm_log "pgbench raw INSERT, $clients clients, ${secs}s"
pg_tps=$( (pgbench -n -M prepared -c "$clients" -j 2 -T "$secs" -f bench/sql/raw_insert.sql "$url" 2>"${scratch:-/tmp}/pgbench.err" || true) |
  sed -nE 's/^tps = ([0-9.]+).*/\1/p' | head -1)
[ -n "$pg_tps" ] || { cat "${scratch:-/tmp}/pgbench.err" >&2; fsm_die "pgbench failed"; }
fsm_log "EventStore.append, single-event commits"
single=$(build/release/bench/fsm-bench-append --database-url "$url" --clients "$clients" --batch 1 --seconds "$secs")
fsm_log "EventStore.append, batches of 10"
batch=$(build/release/bench/fsm-bench-append --database-url "$url" --clients "$clients" --batch 10 --seconds "$secs")

single_eps=$(echo "$single" | jq .events_per_s)
batch_eps=$(echo "$batch" | jq .events_per_s)
jq -n --argjson pg "$pg_tps" --argjson s "$single" --argjson b "$batch" '{
  pgbench_insert_tps: $pg,
  append_single: $s, append_batch10: $b,
  ratio_single_commits_to_pgbench: ($s.commits_per_s / $pg),
  ratio_batch10_events_to_pgbench: ($b.events_per_s / $pg),
  bar: "append single-event commits >= 0.60 of pgbench INSERT TPS"
}'
awk -v s="$single_eps" -v p="$pg_tps" 'BEGIN { exit !(s / p >= 0.60) }' ||
  fsm_log "BELOW BAR: single-event append rate is under 60% of pgbench"
