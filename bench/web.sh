#!/usr/bin/env bash
# fsm-web against its bars, in one run on this machine:
#   start to ready (ms), idle RSS, GET /api/health throughput with keep-alive
#   (wrk, 16 connections, 2 threads) with p50/p99, and peak RSS under that load.
# Usage: bench/web.sh [SECONDS]
set -euo pipefail
source "$(dirname "$0")/../ops/lib/common.sh"
cd "$FSM_ROOT"
secs=${1:-10}

fsm_install_packages "${FSM_APT_PACKAGES[@]}" wrk
fsm_build build/release Release -DFSM_BUILD_TESTS=OFF -DFSM_BUILD_BENCH=ON >&2

scratch=$(mktemp -d -t fsm-bench-XXXXXX)
web=""
cleanup() {
  [ -n "$web" ] && kill -TERM "$web" 2>/dev/null && wait "$web" 2>/dev/null
  fsm_pg_stop "$scratch/pg"
  rm -rf "$scratch"
}
trap cleanup EXIT
fsm_pg_start "$scratch/pg"
fsm_pg_createdb ai_fsm
url=$(fsm_pg_url ai_fsm)
build/release/src/fsmctl --database-url "$url" migrate >/dev/null

port=$(fsm_free_port)
DATABASE_URL=$url PORT=$port FSM_HTTP_THREADS=2 LOG_LEVEL=info \
  build/release/src/fsm-web >"$scratch/web.log" &
web=$!
for _ in $(seq 200); do grep -q '"fsm-web ready"' "$scratch/web.log" 2>/dev/null && break; sleep 0.05; done
startup_ms=$(grep '"fsm-web ready"' "$scratch/web.log" | jq .startup_ms)
sleep 1
rss_idle_kb=$(awk '/VmRSS/ {print $2}' "/proc/$web/status")

fsm_log "wrk GET /api/health, 16 connections, ${secs}s"
# Sample RSS while the load runs (VmHWM would also count startup).
( while sleep 0.2; do awk '/VmRSS/ {print $2}' "/proc/$web/status" 2>/dev/null || break; done ) \
  >"$scratch/rss.samples" &
sampler=$!
out=$(wrk -t2 -c16 -d"${secs}s" --latency "http://127.0.0.1:$port/api/health")
kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
rss_peak_kb=$(sort -n "$scratch/rss.samples" | tail -1)
rss_hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$web/status")
rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) print v/1000; else if (v ~ /ms$/) print v+0; else print v*1000 }'; }
p50=$(to_ms "$(echo "$out" | awk '$1=="50%" {print $2}')")
p99=$(to_ms "$(echo "$out" | awk '$1=="99%" {print $2}')")
errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')

jq -n --argjson startup "$startup_ms" --argjson idle "$rss_idle_kb" --argjson peak "$rss_peak_kb" \
  --argjson hwm "$rss_hwm_kb" \
  --argjson rps "$rps" --argjson p50 "$p50" --argjson p99 "$p99" --arg errors "$errors" '{
  start_to_ready_ms: $startup, rss_idle_mb: ($idle/1024), rss_peak_under_load_mb: ($peak/1024),
  rss_high_water_since_start_mb: ($hwm/1024),
  health_req_per_s: $rps, latency_p50_ms: $p50, latency_p99_ms: $p99, wrk_errors: $errors,
  bars: {health_req_per_s: ">= 10000", rss_idle_mb: "< 16", start_to_ready_ms: "< 200"}
}'
