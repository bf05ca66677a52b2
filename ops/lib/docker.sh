# Shared by ops/restore, ops/compose-drill and ops/backup: the Docker engine,
# `docker compose`, and the Debian 12 base image. Source after common.sh.

FSM_COMPOSE_FILE="$FSM_ROOT/compose.pi.yml"

fsm_compose() { docker compose -f "$FSM_COMPOSE_FILE" "$@"; }

# Installs Docker (Debian's docker.io) and Compose only where there is none
# (never beside Docker's own packages, as a Pi usually has), starts dockerd
# if it is not running, and makes `docker compose` work (the runbook's
# spelling).
fsm_docker_ready() {
  local need=()
  command -v jq >/dev/null || need+=(jq)
  command -v curl >/dev/null || need+=(curl)
  command -v script >/dev/null || need+=(bsdutils)
  command -v dockerd >/dev/null || docker info >/dev/null 2>&1 || need+=(docker.io)
  docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null ||
    need+=(docker-compose)
  [ ${#need[@]} -eq 0 ] || fsm_install_packages "${need[@]}"
  if ! docker info >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || fsm_die "the Docker engine is not running (start it: sudo systemctl start docker)"
    fsm_log "starting dockerd (log: /var/log/ai-fsm-dockerd.log)"
    (setsid dockerd >/var/log/ai-fsm-dockerd.log 2>&1 &)
    local i
    for i in $(seq 1 60); do
      docker info >/dev/null 2>&1 && break
      sleep 0.5
    done
    docker info >/dev/null 2>&1 || fsm_die "dockerd did not start; see /var/log/ai-fsm-dockerd.log"
  fi
  if ! docker compose version >/dev/null 2>&1; then
    local plugins=/usr/local/lib/docker/cli-plugins
    fsm_log "no Compose v2 plugin: installing $plugins/docker-compose (hands over to docker-compose 1.29)"
    mkdir -p "$plugins"
    install -m 0755 "$FSM_ROOT/ops/docker/compose-v1-plugin" "$plugins/docker-compose"
    docker compose version >/dev/null 2>&1 || fsm_die "docker compose still does not work"
  fi
}

# fsm_base_image NAME: a Debian 12 base image under NAME, bootstrapped with
# mmdebstrap (as slim as debian:12-slim: no docs, man pages or locales) when
# the engine does not have it. For machines that reach no image registry.
fsm_base_image() {
  local name=$1
  docker image inspect "$name" >/dev/null 2>&1 && return 0
  command -v mmdebstrap >/dev/null || fsm_install_packages mmdebstrap
  local tar
  tar=$(mktemp -t fsm-base-XXXXXX.tar)
  fsm_log "bootstrapping $name with mmdebstrap (about a minute)"
  mmdebstrap --quiet --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
    bookworm "$tar" >"$tar.log" 2>&1 || { tail -n 30 "$tar.log" >&2; rm -f "$tar" "$tar.log"; fsm_die "mmdebstrap failed"; }
  rm -f "$tar.log"
  docker import "$tar" "$name" >/dev/null
  rm -f "$tar"
}

# fsm_wait_healthy TIMEOUT_S SERVICE...: waits until each service's container
# reports healthy; dies with the laggards' state otherwise.
fsm_wait_healthy() {
  local timeout=$1
  shift
  local deadline=$(( $(date +%s) + timeout )) s id state pending
  while true; do
    pending=()
    for s in "$@"; do
      # -a: Compose v2 lists only running containers otherwise.
      id=$(fsm_compose ps -a -q "$s" 2>/dev/null | head -n 1) || true
      state=""
      [ -z "$id" ] || state=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id" 2>/dev/null) || true
      [ "$state" = healthy ] || pending+=("$s:${state:-absent}")
    done
    [ ${#pending[@]} -eq 0 ] && return 0
    [ "$(date +%s)" -lt "$deadline" ] || fsm_die "not healthy after ${timeout}s: ${pending[*]}"
    sleep 1
  done
}
