#!/usr/bin/env bash
# ops/docker/fsm-backup (the `backup` service) against the test cluster: a
# dump is complete and checked or not there at all, retention keeps the
# newest dumps whatever their age and never touches files it did not make,
# and `check` tells a fresh backup from a stale one. Needs FSM_TEST_DATABASE_URL and FSM_CTL_BIN.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
backup="$root/ops/docker/fsm-backup"
failures=0
expect() {  # description, then a command that must succeed
  local what=$1
  shift
  if "$@"; then echo "ok: $what"; else echo "FAILED: $what" >&2; failures=$((failures + 1)); fi
}

url=${FSM_TEST_DATABASE_URL:?}
hostport=${url#*@}
hostport=${hostport%%/*}
export PGHOST=${hostport%%:*} PGPORT=${hostport##*:} PGUSER=postgres
db="fsm_backup_test_$$"
psql -d postgres -qc "CREATE DATABASE $db"
scratch=$(mktemp -d)
trap 'psql -d postgres -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1; rm -rf "$scratch"' EXIT
DATABASE_URL="postgresql://$PGUSER@$PGHOST:$PGPORT/$db" "${FSM_CTL_BIN:?}" migrate >/dev/null
export PGDATABASE=$db FSM_BACKUP_TARGET="$scratch/b" FSM_BACKUP_KEEP_DAYS=3 FSM_BACKUP_INTERVAL_HOURS=24
export FSM_BACKUP_KEEP_COUNT=1

expect "check fails while there is no backup" bash -c "! '$backup' check 2>/dev/null"

# Files that are not ours, and dumps of ours from 5 and 2 days ago.
mkdir -p "$FSM_BACKUP_TARGET"
for f in incident_20200101_000000.dump ai_fsm_20200101T000000Z.dump; do
  echo x >"$FSM_BACKUP_TARGET/$f"
  touch -d '5 days ago' "$FSM_BACKUP_TARGET/$f"
done
echo x >"$FSM_BACKUP_TARGET/ai_fsm_20200104T000000Z.dump"
touch -d '2 days ago' "$FSM_BACKUP_TARGET/ai_fsm_20200104T000000Z.dump"

made=$("$backup" now 2>"$scratch/log")
expect "now prints the dump it made" test -s "$made"
expect "the dump is named ai_fsm_<UTC time>.dump" grep -qE '/ai_fsm_[0-9]{8}T[0-9]{6}Z\.dump$' <<<"$made"
expect "the dump is readable by its owner only" test "$(stat -c %a "$made")" = 600
expect "the dump holds the event log" bash -c "pg_restore --list '$made' | grep -q 'TABLE DATA public events '"
expect "the log says so, as JSON" bash -c "grep '\"msg\":\"backup done\"' '$scratch/log' | jq -e .bytes >/dev/null"
expect "the dump older than 3 days is pruned" test ! -e "$FSM_BACKUP_TARGET/ai_fsm_20200101T000000Z.dump"
expect "the dump from 2 days ago is kept" test -e "$FSM_BACKUP_TARGET/ai_fsm_20200104T000000Z.dump"
expect "files it did not make are kept" test -e "$FSM_BACKUP_TARGET/incident_20200101_000000.dump"
expect "check passes with a fresh dump" "$backup" check
touch -d '26 hours ago' "$made"
expect "check fails when the newest dump is older than the interval + 1 h" bash -c "! '$backup' check 2>/dev/null"

# Only old dumps left, and the database unreachable: nothing is deleted.
rm -f "$FSM_BACKUP_TARGET"/ai_fsm_2020*.dump
touch -d '9 days ago' "$made"
expect "a failed dump exits non-zero" bash -c "! PGPORT=1 '$backup' now >/dev/null 2>&1"
expect "a failed dump never prunes the newest dump" test -e "$made"
expect "a failed dump leaves no partial file" test -z "$(find "$FSM_BACKUP_TARGET" -name '*.partial*')"

# Damage found late, or dumps that stopped: the newest KEEP_COUNT stay,
# however old; `prune` alone applies the same rule.
rm -f "$FSM_BACKUP_TARGET"/ai_fsm_*.dump
for d in 10 9 8; do
  f="$FSM_BACKUP_TARGET/ai_fsm_202001${d}T000000Z.dump"
  echo x >"$f"
  touch -d "$d days ago" "$f"
done
FSM_BACKUP_KEEP_COUNT=2 "$backup" prune 2>/dev/null
expect "prune keeps the newest 2 dumps though older than 3 days" \
  test "$(cd "$FSM_BACKUP_TARGET" && ls ai_fsm_*.dump | tr '\n' ' ')" = "ai_fsm_2020018T000000Z.dump ai_fsm_2020019T000000Z.dump "
FSM_BACKUP_KEEP_COUNT=2 "$backup" now >/dev/null 2>&1
expect "a new dump pushes the oldest kept one out" \
  test "$(find "$FSM_BACKUP_TARGET" -name 'ai_fsm_2020*.dump' | wc -l)" = 1
expect "and bad settings are refused" bash -c "! FSM_BACKUP_KEEP_COUNT=0 '$backup' prune 2>/dev/null"

# A database without the event log is not a backup of ai-fsm.
expect "a database without an event log is refused" bash -c "! PGDATABASE=postgres '$backup' now >/dev/null 2>&1"
expect "and leaves no dump" test "$(find "$FSM_BACKUP_TARGET" -name 'ai_fsm_*.dump' | wc -l)" = 2
expect "bad settings are refused" bash -c "! FSM_BACKUP_KEEP_DAYS=0 '$backup' check 2>/dev/null"

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed" >&2; exit 1; }
