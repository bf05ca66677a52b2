#!/usr/bin/env bash
# Writes an event log with a given build of ai-fsm and exports it, with the
# read tables that build projected, as the fixture of
# tests/integration/old_log_replay_test.cc: "logs written by the old code
# replay to the same tables".
#
#   tests/compat/write_old_log.sh FSM_WEB FSMCTL [OUT_DIR]
#
# FSM_WEB and FSMCTL are the binaries of the build that writes the log (for
# the committed fixture: commit 6103bc6, before the "one home per aggregate"
# refactor). OUT_DIR defaults to tests/fixtures/old_log_6103bc6.
#
# It starts a private PostgreSQL cluster of its own (initdb in a temporary
# directory, so the log's tx_ids are small: a fresh cluster that replays the
# log gets past them quickly), migrates with FSMCTL, creates two accounts,
# drives over HTTP a workload that writes every event type the old code can
# write, checks with FSMCTL that its own replay agrees with its live tables,
# and writes to OUT_DIR:
#   events.jsonl           every row of `events`, all columns, by position
#   streams.jsonl          every row of `streams`, by stream_id
#   expected/<table>.jsonl every row of each read table, by id
# one JSON object per row (row_to_json, columns in table order, timestamps
# in UTC). Needs curl, jq, psql and PostgreSQL 15 (ops/lib/common.sh).
set -euo pipefail

[ $# -ge 2 ] || { sed -n '7,11p' "$0" >&2; exit 2; }
WEB=$(realpath "$1")
CTL=$(realpath "$2")
# shellcheck source=ops/lib/common.sh
source "$(dirname "$0")/../../ops/lib/common.sh"
OUT=${3:-$FSM_ROOT/tests/fixtures/old_log_6103bc6}

# The read tables the projections write (src/projections/tables.cc).
TABLES=(accounts users clients properties jobs visits estimates estimate_line_items
        invoices invoice_line_items payments audit_log)

scratch=$(mktemp -d -t fsm-old-log-XXXXXX)
chmod 755 "$scratch"
web_pid=""
cleanup() {
  [ -n "$web_pid" ] && kill -TERM "$web_pid" 2>/dev/null && wait "$web_pid" 2>/dev/null
  fsm_pg_stop "$scratch/pg"
  rm -rf "$scratch"
}
trap cleanup EXIT

FSM_PG_FSYNC=off fsm_pg_start "$scratch/pg"
fsm_pg_createdb old_log
export DATABASE_URL
DATABASE_URL=$(fsm_pg_url old_log)
# Fast password hashing: the hashes are not part of the log.
export FSM_ARGON2_OPSLIMIT=1 FSM_ARGON2_MEMLIMIT_KB=8192
"$CTL" migrate >&2

new_account() {  # NAME EMAIL: prints the account's JSON
  echo "old log password 1" | "$CTL" account create --name "$1" --owner-email "$2" \
    --owner-name "$1 Owner"
}
new_account "Old Log Plumbing" owner@old-log.test >/dev/null
new_account "Other Tenant" owner@other.test >/dev/null

port=$(fsm_free_port)
PORT=$port LOG_LEVEL=warn "$WEB" >"$scratch/web.log" 2>&1 &
web_pid=$!
base="http://127.0.0.1:$port/api/v1"
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/api/health" >/dev/null 2>&1 && break
  sleep 0.1
done

# call TOKEN STATUS METHOD PATH [BODY]: exits unless the answer's status is
# STATUS; `got FILTER` reads its body. Not in a subshell, so that exit ends
# the script. Each request names its step in X-Request-Id, so the events'
# trace ids say which step wrote them.
step=0
call() {
  local token=$1 want=$2 method=$3 path=$4 body=${5:-}
  step=$((step + 1))
  local args=(-sS -o "$scratch/body" -w '%{http_code}' -X "$method"
              -H "X-Request-Id: old-log-$(printf '%03d' $step)")
  [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data "$body")
  local got
  got=$(curl "${args[@]}" "$base$path")
  if [ "$got" != "$want" ]; then
    echo "step $step: $method $path answered $got, expected $want: $(cat "$scratch/body")" >&2
    exit 1
  fi
}
got() { jq -r "$1" "$scratch/body"; }
login() {  # VAR EMAIL PASSWORD: sets VAR to a session token
  call "" 200 POST /auth/login "{\"email\":\"$2\",\"password\":\"$3\"}"
  printf -v "$1" '%s' "$(got .token)"
}
move() {  # TOKEN RESOURCE ID STATUS...: one transition per status, in order
  local token=$1 resource=$2 id=$3 to
  shift 3
  for to in "$@"; do call "$token" 200 POST "/$resource/$id/transition" "{\"status\":\"$to\"}"; done
}

login OWNER owner@old-log.test "old log password 1"

# ---- users: created, patched, password changed (with a patch: two events
# in one command), deleted. Sessions are not events.
call "$OWNER" 201 POST /users '{"email":"admin@old-log.test","full_name":"Ada Admin","role":"admin","password":"admin password 1"}'
ADMIN_ID=$(got .id)
call "$OWNER" 201 POST /users '{"email":"tech@old-log.test","full_name":"Ted Tech","role":"tech","password":"tech password 1","phone":"555-0101"}'
TECH_ID=$(got .id)
call "$OWNER" 201 POST /users '{"email":"temp@old-log.test","full_name":"Tim Temp","role":"tech","password":"temp password 1"}'
GONE_ID=$(got .id)
call "$OWNER" 200 PATCH "/users/$TECH_ID" '{"phone":"555-0102","full_name":"Ted T. Tech"}'
call "$OWNER" 200 PATCH "/users/$TECH_ID" '{"password":"tech password 2"}'
call "$OWNER" 200 PATCH "/users/$ADMIN_ID" '{"phone":"555-0103","password":"admin password 2"}'
call "$OWNER" 200 PATCH "/users/$ADMIN_ID" '{"phone":"555-0103"}'  # no change: no event
call "$OWNER" 204 DELETE "/users/$GONE_ID"
login ADMIN admin@old-log.test "admin password 2"
login TECH tech@old-log.test "tech password 2"

# ---- clients and properties (the admin writes some: another actor)
call "$ADMIN" 201 POST /clients '{"name":"Acme Homes","email":"office@acme.test","phone":"555-0200","notes":"gate code 1234"}'
A=$(got .id)
call "$OWNER" 200 PATCH "/clients/$A" '{"name":"Acme Homes Ltd","notes":null}'
call "$ADMIN" 201 POST "/clients/$A/properties" '{"address":"1 Main St","name":"HQ","city":"Springfield","state":"IL","zip":"62701","notes":"back door"}'
PA=$(got .id)
call "$OWNER" 200 PATCH "/properties/$PA" '{"zip":"62702","notes":null}'
call "$OWNER" 201 POST /clients '{"name":"Bygone Ltd"}'
B=$(got .id)
call "$OWNER" 201 POST "/clients/$B/properties" '{"address":"2 Side St"}'
PB1=$(got .id)
call "$OWNER" 201 POST "/clients/$B/properties" '{"address":"3 Side St","city":"Shelbyville"}'
call "$OWNER" 201 POST "/clients/$B/properties" '{"address":"4 Side St"}'
call "$OWNER" 200 PATCH "/properties/$PB1" '{"name":"Warehouse"}'
call "$OWNER" 204 DELETE "/properties/$PB1"
# The client's delete cascades: one PropertyDeleted per remaining property.
call "$OWNER" 204 DELETE "/clients/$B"

# ---- jobs: every transition, a patch, a delete
call "$ADMIN" 201 POST /jobs "{\"client_id\":\"$A\",\"property_id\":\"$PA\",\"title\":\"Fix boiler\",\"description\":\"no hot water\",\"priority\":\"high\",\"scheduled_start\":\"2030-01-10T09:00:00+01:00\",\"scheduled_end\":\"2030-01-10T12:00:00Z\"}"
J1=$(got .id)
call "$ADMIN" 200 PATCH "/jobs/$J1" '{"title":"Fix the boiler","priority":"urgent","description":null}'
move "$ADMIN" jobs "$J1" quoted draft scheduled in_progress completed
call "$ADMIN" 201 POST /jobs "{\"client_id\":\"$A\",\"title\":\"Gutters\"}"
J2=$(got .id)
move "$ADMIN" jobs "$J2" scheduled cancelled draft
call "$OWNER" 204 DELETE "/jobs/$J2"
call "$ADMIN" 201 POST /jobs "{\"client_id\":\"$A\",\"property_id\":\"$PA\",\"title\":\"Roof\",\"priority\":\"low\"}"
J3=$(got .id)
move "$ADMIN" jobs "$J3" quoted scheduled in_progress cancelled

# ---- visits: every transition, office patches, the tech's own moves and notes
call "$ADMIN" 201 POST "/jobs/$J3/visits" "{\"scheduled_start\":\"2030-02-01T08:00:00Z\",\"scheduled_end\":\"2030-02-01T10:00:00Z\",\"tech_notes\":\"bring ladder\"}"
V1=$(got .id)
call "$ADMIN" 200 PATCH "/visits/$V1" "{\"assigned_user_id\":\"$TECH_ID\",\"scheduled_end\":\"2030-02-01T11:30:00-05:00\"}"
move "$TECH" visits "$V1" arrived in_progress
call "$TECH" 200 POST "/visits/$V1/transition" '{"status":"completed","tech_notes":"replaced 3 tiles"}'
call "$TECH" 200 PATCH "/visits/$V1" '{"tech_notes":"replaced 3 tiles; photos sent"}'
call "$ADMIN" 201 POST "/jobs/$J3/visits" "{\"scheduled_start\":\"2030-02-02T08:00:00Z\",\"scheduled_end\":\"2030-02-02T09:00:00Z\",\"assigned_user_id\":\"$TECH_ID\"}"
V2=$(got .id)
move "$TECH" visits "$V2" arrived cancelled
call "$ADMIN" 201 POST "/jobs/$J3/visits" "{\"scheduled_start\":\"2030-02-03T08:00:00Z\",\"scheduled_end\":\"2030-02-03T09:00:00Z\"}"
V3=$(got .id)
move "$ADMIN" visits "$V3" cancelled
call "$ADMIN" 200 PATCH "/visits/$V3" '{"tech_notes":"customer away"}'

# ---- estimates: line items replaced, re-priced, sent, internal notes while
# sent, approved, declined, expired, converted (twice: the second writes nothing)
call "$ADMIN" 201 POST /estimates "{\"client_id\":\"$A\",\"job_id\":\"$J1\",\"property_id\":\"$PA\",\"tax_rate_bps\":825,\"notes\":\"valid 30 days\",\"internal_notes\":\"margin 20%\",\"expires_at\":\"2030-03-01T00:00:00Z\",\"line_items\":[{\"description\":\"Boiler\",\"quantity\":1,\"unit_price_cents\":150000},{\"description\":\"Labour\",\"quantity\":2.5,\"unit_price_cents\":8000}]}"
E1=$(got .id)
call "$ADMIN" 200 PATCH "/estimates/$E1" '{"line_items":[{"description":"Boiler XL","quantity":1,"unit_price_cents":175000},{"description":"Labour","quantity":3.25,"unit_price_cents":8000},{"description":"Discount","quantity":1,"unit_price_cents":-5000}]}'
call "$ADMIN" 200 PATCH "/estimates/$E1" '{"tax_rate_bps":700,"notes":"valid 14 days"}'
move "$ADMIN" estimates "$E1" sent
call "$ADMIN" 200 PATCH "/estimates/$E1" '{"internal_notes":"margin 18%"}'
move "$ADMIN" estimates "$E1" approved
call "$ADMIN" 201 POST "/estimates/$E1/convert"
INV1=$(got .invoice_id)
call "$ADMIN" 200 POST "/estimates/$E1/convert"
call "$ADMIN" 201 POST /estimates "{\"client_id\":\"$A\",\"line_items\":[{\"description\":\"Survey\",\"quantity\":0.5,\"unit_price_cents\":12345}]}"
E2=$(got .id)
move "$ADMIN" estimates "$E2" sent declined
call "$ADMIN" 201 POST /estimates "{\"client_id\":\"$A\",\"tax_rate_bps\":10000,\"line_items\":[{\"description\":\"Paint\",\"quantity\":12,\"unit_price_cents\":999}]}"
E3=$(got .id)
move "$ADMIN" estimates "$E3" sent expired

# ---- invoices: patched, sent, every status, payments recorded and removed
call "$ADMIN" 200 PATCH "/invoices/$INV1" '{"notes":"thank you","due_date":"2030-04-01T00:00:00Z"}'
move "$ADMIN" invoices "$INV1" sent
call "$ADMIN" 201 POST "/invoices/$INV1/payments" '{"amount_cents":50000,"method":"card","notes":"deposit"}'
P1=$(got .payment.id)
call "$ADMIN" 200 GET "/invoices/$INV1"
TOTAL1=$(got '.total_cents - .paid_cents')
call "$ADMIN" 201 POST "/invoices/$INV1/payments" "{\"amount_cents\":$TOTAL1,\"method\":\"transfer\",\"received_at\":\"2030-01-20T12:00:00+02:00\"}"
call "$OWNER" 204 DELETE "/payments/$P1"                 # paid -> partial, paid_at cleared
call "$ADMIN" 201 POST "/invoices/$INV1/payments" '{"amount_cents":50000,"method":"cash"}'
move "$ADMIN" jobs "$J1" invoiced                        # an invoice names the job now

# Due in the past: removing its only payment makes it overdue, not sent.
call "$ADMIN" 201 POST /invoices "{\"client_id\":\"$A\",\"property_id\":\"$PA\",\"due_date\":\"2020-01-01T00:00:00Z\",\"line_items\":[{\"description\":\"Call-out\",\"quantity\":1,\"unit_price_cents\":9000}]}"
INV2=$(got .id)
call "$ADMIN" 200 PATCH "/invoices/$INV2" '{"tax_rate_bps":2000,"line_items":[{"description":"Call-out","quantity":1,"unit_price_cents":9000},{"description":"Parts","quantity":4,"unit_price_cents":1250}]}'
move "$ADMIN" invoices "$INV2" sent overdue
call "$ADMIN" 201 POST "/invoices/$INV2/payments" '{"amount_cents":1000,"method":"check"}'
P2=$(got .payment.id)
move "$ADMIN" invoices "$INV2" overdue partial
call "$OWNER" 204 DELETE "/payments/$P2"                 # nothing paid: overdue again
call "$ADMIN" 201 POST "/invoices/$INV2/payments" '{"amount_cents":500,"method":"other","notes":"coins"}'
move "$ADMIN" invoices "$INV2" void

# An invoice naming an estimate, voided from draft; one paid in full at once.
call "$ADMIN" 201 POST /invoices "{\"client_id\":\"$A\",\"estimate_id\":\"$E3\",\"notes\":\"from the paint quote\",\"line_items\":[{\"description\":\"Paint\",\"quantity\":12,\"unit_price_cents\":999}]}"
INV3=$(got .id)
move "$ADMIN" invoices "$INV3" void
call "$OWNER" 201 POST /invoices "{\"client_id\":\"$A\",\"tax_rate_bps\":1,\"line_items\":[{\"description\":\"Filter\",\"quantity\":1.01,\"unit_price_cents\":3333}]}"
INV4=$(got .id)
move "$OWNER" invoices "$INV4" sent
call "$OWNER" 200 GET "/invoices/$INV4"
TOTAL4=$(got .total_cents)
call "$OWNER" 201 POST "/invoices/$INV4/payments" "{\"amount_cents\":$TOTAL4,\"method\":\"card\"}"

# ---- the other tenant: its own invoice numbers
login OTHER owner@other.test "old log password 1"
call "$OTHER" 201 POST /clients '{"name":"Solo Client"}'
C2=$(got .id)
call "$OTHER" 201 POST /invoices "{\"client_id\":\"$C2\",\"line_items\":[{\"description\":\"Visit\",\"quantity\":1,\"unit_price_cents\":100}]}"
call "$TECH" 200 POST /auth/logout

kill -TERM "$web_pid"
wait "$web_pid" || true
web_pid=""

# The old code's own replay must agree with its live tables, or the fixture
# would record a bug of the writer rather than its projections.
"$CTL" projections verify >&2

export PGTZ=UTC
sql() { psql "$DATABASE_URL" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
mkdir -p "$OUT/expected"
rm -f "$OUT"/expected/*.jsonl
sql "SELECT row_to_json(e) FROM events e ORDER BY global_position" >"$OUT/events.jsonl"
sql "SELECT row_to_json(s) FROM streams s ORDER BY stream_id" >"$OUT/streams.jsonl"
for t in "${TABLES[@]}"; do
  sql "SELECT row_to_json(t) FROM $t t ORDER BY id" >"$OUT/expected/$t.jsonl"
done
types=$(sql "SELECT string_agg(DISTINCT event_type, ' ' ORDER BY event_type) FROM events")
fsm_log "wrote $(wc -l <"$OUT/events.jsonl") events to $OUT; event types: $types"
