#!/usr/bin/env bash
# Health under attack (DESIGN.md's bar: /api/health p99 < 100 ms while slow,
# non-reading and pipelining clients hold connections). Starts fsm-web
# (Release) on a private cluster, makes 100 clients whose list answers are
# ~400 KB, then runs bench/soak.py for SECONDS (loopback only) and prints its
# JSON with fsm-web's peak RSS added.
# Usage: bench/soak.sh [SECONDS]
set -euo pipefail
source "$(dirname "$0")/../ops/lib/common.sh"
source "$(dirname "$0")/lib.sh"
cd "$FSM_ROOT"
secs=${1:-20}
# The attack holds ~1,300 sockets on each side.
ulimit -n "$(ulimit -Hn)"

bench_setup
# SOAK_WEB_ENV: extra VAR=value settings for fsm-web (to compare configurations).
# shellcheck disable=SC2086
bench_start_web "$url" LOG_LEVEL=warn ${SOAK_WEB_ENV:-}
echo 'soak password 1' | build/release/src/fsmctl --database-url "$url" account create \
  --name Soak --owner-email soak@example.test --owner-name Soak >/dev/null
token=$(curl -sf "http://127.0.0.1:$bench_port/api/v1/auth/login" \
  -H 'Content-Type: application/json' \
  -d '{"email":"soak@example.test","password":"soak password 1"}' | jq -r .token)
notes=$(printf 'n%.0s' $(seq 4000))
for i in $(seq 100); do
  curl -sf "http://127.0.0.1:$bench_port/api/v1/clients" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d "{\"name\":\"c$i\",\"notes\":\"$notes\"}" >/dev/null
done

fsm_log "attack for ${secs}s: 8 non-readers, 50 pipelining flooders, 100 slowloris, 1000 idle"
bench_rss_start
result=$(python3 bench/soak.py "$bench_port" "$token" "$secs")
bench_rss_stop
curl -sf "http://127.0.0.1:$bench_port/api/health" >/dev/null || fsm_die "fsm-web is not healthy after the attack"
echo "$result" | jq --argjson rss "$(bench_rss_peak_mb)" \
  '. + {rss_peak_mb: $rss, bars: {health_p99_ms: "< 100", rss_peak_mb: "< 48"}}'
