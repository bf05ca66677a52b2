#!/usr/bin/env bash
# fsm-web against its bars, in one run on this machine:
#   start to ready (ms), idle RSS, GET /api/health throughput with keep-alive
#   (wrk, 16 connections, 2 threads) with p50/p99, and peak RSS under that load.
# Usage: bench/web.sh [SECONDS]
set -euo pipefail
source "$(dirname "$0")/../ops/lib/common.sh"
source "$(dirname "$0")/lib.sh"
cd "$FSM_ROOT"
secs=${1:-10}

bench_setup

bench_start_web "$url" LOG_LEVEL=info
startup_ms=$(grep '"fsm-web ready"' "$bench_web_log" | jq .startup_ms)
sleep 1
rss_idle_kb=$(awk '/VmRSS/ {print $2}' "/proc/$bench_web/status")

fsm_log "wrk GET /api/health, 16 connections, ${secs}s"
bench_rss_start
out=$(wrk -t2 -c16 -d"${secs}s" --latency "http://127.0.0.1:$bench_port/api/health")
bench_rss_stop
rss_hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$bench_web/status")

jq -n --argjson startup "$startup_ms" --argjson idle "$rss_idle_kb" \
  --argjson peak "$(bench_rss_peak_mb)" --argjson hwm "$rss_hwm_kb" \
  --argjson health "$(wrk_json "$out")" '{
  start_to_ready_ms: $startup, rss_idle_mb: ($idle/1024), rss_peak_under_load_mb: $peak,
  rss_high_water_since_start_mb: ($hwm/1024), health: $health,
  bars: {health_req_per_s: ">= 10000", rss_idle_mb: "< 16", start_to_ready_ms: "< 200"}
}'
