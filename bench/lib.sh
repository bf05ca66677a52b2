# Shared by the HTTP benchmarks (sourced after ops/lib/common.sh).

# Installs what is missing, builds Release, starts a private cluster (fsync
# on: production settings) with a migrated database; sets `scratch` and `url`.
# Everything, fsm-web included, is stopped and removed on exit.
bench_setup() {
  fsm_install_packages "${FSM_APT_PACKAGES[@]}" "${FSM_BENCH_PACKAGES[@]}"
  fsm_build build/release Release -DFSM_BUILD_TESTS=OFF -DFSM_BUILD_BENCH=ON >&2
  scratch=$(mktemp -d -t fsm-bench-XXXXXX)
  chmod 755 "$scratch"  # the postgres user runs the cluster inside it
  bench_web=""
  bench_worker=""
  trap bench_cleanup EXIT
  fsm_pg_start "$scratch/pg"
  fsm_pg_createdb ai_fsm
  url=$(fsm_pg_url ai_fsm)
  build/release/src/fsmctl --database-url "$url" migrate >/dev/null
}

bench_cleanup() {
  [ -z "$bench_worker" ] || kill -TERM "$bench_worker" 2>/dev/null || true
  if [ -n "$bench_web" ]; then
    kill -TERM "$bench_web" 2>/dev/null && wait "$bench_web" 2>/dev/null
  fi
  fsm_pg_stop "$scratch/pg"
  rm -rf "$scratch"
}

# Starts fsm-web (Release) on a free port against $1 with extra env "$@", and
# fsm-worker; sets bench_web (pid), bench_worker, bench_port, bench_web_log.
bench_start_web() {
  local url=$1
  shift
  bench_port=$(fsm_free_port)
  bench_web_log="$scratch/web.log"
  env DATABASE_URL="$url" PORT="$bench_port" "$@" \
    build/release/src/fsm-web >"$bench_web_log" &
  bench_web=$!
  local _
  # As deployed: fsm-worker beside it (idle here: no automations), so that
  # /api/health's checks.worker is ok.
  env DATABASE_URL="$url" build/release/src/fsm-worker >"$scratch/worker.log" &
  bench_worker=$!
  for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$bench_port/api/health" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  cat "$bench_web_log" >&2
  fsm_die "fsm-web did not become healthy"
}

# Samples fsm-web's RSS every 200 ms into $scratch/rss.samples until stopped.
bench_rss_start() {
  ( while sleep 0.2; do awk '/VmRSS/ {print $2}' "/proc/$bench_web/status" 2>/dev/null || break; done ) \
    >>"$scratch/rss.samples" &
  bench_sampler=$!
}
bench_rss_stop() {
  kill "$bench_sampler" 2>/dev/null
  wait "$bench_sampler" 2>/dev/null || true
}
bench_rss_peak_mb() { sort -n "$scratch/rss.samples" | tail -1 | awk '{print $1/1024}'; }

# wrk's text output → {req_per_s, p50_ms, p99_ms, non_2xx_or_errors}.
wrk_json() {
  local out=$1
  local to_ms='{ if ($2 ~ /us$/) print $2/1000; else if ($2 ~ /ms$/) print $2+0; else print $2*1000 }'
  local rps p50 p99 errors
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%"' | awk "$to_ms")
  p99=$(echo "$out" | awk '$1=="99%"' | awk "$to_ms")
  errors=$(echo "$out" | awk '/Non-2xx|Socket errors/' | tr '\n' ' ')
  jq -n --argjson rps "$rps" --argjson p50 "$p50" --argjson p99 "$p99" --arg e "$errors" \
    '{req_per_s: $rps, p50_ms: $p50, p99_ms: $p99, errors: $e}'
}
