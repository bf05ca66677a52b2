# Shared by ops/run, ops/test and bench/*: dependency install, build, and a
# private PostgreSQL 15 cluster. Source it; it defines functions only.

FSM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

fsm_log() { printf '[ops] %s\n' "$*" >&2; }
fsm_die() { printf '[ops] error: %s\n' "$*" >&2; exit 1; }

# Debian 12 packages the build, the tests and the benchmarks need.
FSM_APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libpistache-dev libpqxx-dev libpq-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libhowardhinnant-date-dev libsodium-dev libcli11-dev libgtest-dev libgmock-dev
  libcurl4-openssl-dev
  postgresql-15 postgresql-client-15 curl jq
)
# ops/test also fuzzes (libFuzzer comes with clang); bench/ drives HTTP with wrk.
FSM_TEST_PACKAGES=(clang libclang-rt-14-dev)
FSM_BENCH_PACKAGES=(wrk python3 time)

# Installs whatever of the given packages is missing (needs root or sudo).
fsm_install_packages() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  fsm_log "installing: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || fsm_die "missing packages (${missing[*]}) and not root"
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# fsm_build DIR BUILD_TYPE [cmake args...]
fsm_build() {
  local dir=$1 type=$2
  shift 2
  cmake -S "$FSM_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
}

# A port nothing listens on (TCP connect refused). The caller still retries if
# the server then fails to bind: another process may take it in between.
fsm_free_port() {
  local port tries=0
  while [ $tries -lt 200 ]; do
    port=$(( 20000 + (RANDOM * 7 + tries * 131) % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
    tries=$((tries + 1))
  done
  fsm_die "no free TCP port found"
}

# PostgreSQL refuses to run as root: run its tools as the `postgres` user then.
fsm_pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# fsm_pg_start DATADIR: initialises DATADIR if needed, starts it on a free port
# (retrying on a bind race) and sets FSM_PG_PORT and FSM_PG_SOCKDIR.
fsm_pg_start() {
  local data=$1
  local sock="$data/run"
  if [ "$(id -u)" -eq 0 ]; then
    mkdir -p "$data"
    chown postgres:postgres "$data"
    # The postgres user must be able to reach the data directory.
    local d=$data
    while [ "$d" != "/" ]; do d=$(dirname "$d"); chmod o+x "$d" 2>/dev/null || true; done
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    fsm_pg_as_owner "$PG_BIN/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
      >/dev/null || fsm_die "initdb failed in $data"
  fi
  fsm_pg_as_owner mkdir -p "$sock"
  if fsm_pg_as_owner "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    FSM_PG_PORT=$(sed -n '4p' "$data/postmaster.pid")
    FSM_PG_SOCKDIR=$sock
    fsm_log "PostgreSQL already running in $data on port $FSM_PG_PORT"
    return 0
  fi
  local attempt port
  for attempt in 1 2 3 4 5; do
    port=$(fsm_free_port)
    if fsm_pg_as_owner "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t 30 start \
        -o "-p $port -k $sock -c listen_addresses=127.0.0.1 -c fsync=${FSM_PG_FSYNC:-on}" \
        >/dev/null 2>&1; then
      FSM_PG_PORT=$port
      FSM_PG_SOCKDIR=$sock
      fsm_log "PostgreSQL started in $data on 127.0.0.1:$port"
      return 0
    fi
    fsm_log "PostgreSQL could not start on port $port (attempt $attempt); trying another"
  done
  tail -n 20 "$data/server.log" >&2 || true
  fsm_die "PostgreSQL failed to start in $data"
}

fsm_pg_stop() {
  local data=$1
  [ -f "$data/postmaster.pid" ] || return 0
  fsm_pg_as_owner "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
}

# fsm_pg_url DBNAME: a URL for the cluster started by fsm_pg_start.
fsm_pg_url() { echo "postgresql://postgres@127.0.0.1:$FSM_PG_PORT/$1"; }

# fsm_pg_createdb DBNAME: creates the database if it does not exist.
fsm_pg_createdb() {
  local exists
  exists=$(psql "$(fsm_pg_url postgres)" -tAc "SELECT 1 FROM pg_database WHERE datname = '$1'")
  [ "$exists" = "1" ] || psql "$(fsm_pg_url postgres)" -qc "CREATE DATABASE \"$1\"" >/dev/null
}
