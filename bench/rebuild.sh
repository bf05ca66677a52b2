#!/usr/bin/env bash
# Rebuild and verify against this machine's own limit, in one run:
#   1. a template of whole lifecycles made through the API (client, property,
#      job and its transitions, visits, an estimate with line items sent,
#      approved and converted, the invoice sent and paid, a payment removed
#      and recorded again), cloned in SQL to EVENTS events (default 1,000,000);
#   2. the set-based baseline: INSERT … SELECT of every event into a table
#      like `jobs` (its columns and indexes);
#   3. `fsmctl projections rebuild` of every projection, and
#      `fsmctl projections verify`;
# printed as events/s and the ratio of (3) to (2).
# A private cluster with fsync on (production settings). Usage: bench/rebuild.sh [EVENTS]
set -euo pipefail
source "$(dirname "$0")/../ops/lib/common.sh"
source "$(dirname "$0")/lib.sh"
cd "$FSM_ROOT"
target=${1:-1000000}
lifecycles=10

bench_setup
fsmctl() { build/release/src/fsmctl --database-url "$url" "$@"; }
password=$(head -c 18 /dev/urandom | base64)
echo "$password" | fsmctl account create --name Bench --owner-email bench@ai-fsm.local \
  --owner-name Bench >/dev/null
bench_start_web "$url"
api="http://127.0.0.1:$bench_port/api/v1"
token=$(curl -sf "$api/auth/login" -H 'Content-Type: application/json' \
  -d "$(jq -n --arg p "$password" '{email: "bench@ai-fsm.local", password: $p}')" | jq -r .token)
call() {  # call METHOD PATH [BODY] → the answer's body; fails on any non-2xx
  curl -sf -X "$1" "$api$2" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' ${3:+-d "$3"}
}

fsm_log "template: $lifecycles lifecycles through the API"
tech=$(call POST /users '{"email": "tech@ai-fsm.local", "full_name": "Tech", "role": "tech",
  "password": "correct horse battery"}' | jq -r .id)
for i in $(seq "$lifecycles"); do
  client=$(call POST /clients "{\"name\": \"Client $i\", \"email\": \"c$i@example.com\"}" | jq -r .id)
  property=$(call POST "/clients/$client/properties" \
    "{\"address\": \"$i Main St\", \"city\": \"Springfield\", \"zip\": \"0$i\"}" | jq -r .id)
  job=$(call POST /jobs "{\"client_id\": \"$client\", \"property_id\": \"$property\",
    \"title\": \"Boiler service $i\", \"priority\": \"high\"}" | jq -r .id)
  call PATCH "/jobs/$job" '{"description": "Annual service, check the valve"}' >/dev/null
  call POST "/jobs/$job/transition" '{"status": "quoted"}' >/dev/null
  estimate=$(call POST /estimates "{\"client_id\": \"$client\", \"job_id\": \"$job\",
    \"property_id\": \"$property\", \"tax_rate_bps\": 825, \"line_items\": [
      {\"description\": \"Labour\", \"quantity\": 2.5, \"unit_price_cents\": 9500},
      {\"description\": \"Valve\", \"quantity\": 1, \"unit_price_cents\": 4599},
      {\"description\": \"Seals\", \"quantity\": 4, \"unit_price_cents\": 375}]}" | jq -r .id)
  call PATCH "/estimates/$estimate" '{"notes": "Valid for 30 days"}' >/dev/null
  call POST "/estimates/$estimate/transition" '{"status": "sent"}' >/dev/null
  call POST "/estimates/$estimate/transition" '{"status": "approved"}' >/dev/null
  invoice=$(call POST "/estimates/$estimate/convert" | jq -r .invoice_id)
  call POST "/jobs/$job/transition" '{"status": "scheduled"}' >/dev/null
  for v in 1 2; do
    visit=$(call POST "/jobs/$job/visits" "{\"scheduled_start\": \"2026-12-0${v}T09:00:00Z\",
      \"scheduled_end\": \"2026-12-0${v}T11:00:00Z\", \"assigned_user_id\": \"$tech\"}" | jq -r .id)
    call POST "/visits/$visit/transition" '{"status": "arrived"}' >/dev/null
    call POST "/visits/$visit/transition" '{"status": "in_progress"}' >/dev/null
    call POST "/visits/$visit/transition" '{"status": "completed", "tech_notes": "Done"}' >/dev/null
  done
  call POST "/jobs/$job/transition" '{"status": "in_progress"}' >/dev/null
  call POST "/jobs/$job/transition" '{"status": "completed"}' >/dev/null
  call POST "/invoices/$invoice/transition" '{"status": "sent"}' >/dev/null
  payment=$(call POST "/invoices/$invoice/payments" '{"amount_cents": 10000, "method": "card"}' |
    jq -r .payment.id)
  call DELETE "/payments/$payment" >/dev/null
  call POST "/invoices/$invoice/payments" '{"amount_cents": 10000, "method": "check"}' >/dev/null
  balance=$(call GET "/invoices/$invoice" | jq '.total_cents - .paid_cents')
  call POST "/invoices/$invoice/payments" "{\"amount_cents\": $balance, \"method\": \"transfer\"}" >/dev/null
  call POST "/jobs/$job/transition" '{"status": "invoiced"}' >/dev/null
done
kill -TERM "$bench_web" && wait "$bench_web" 2>/dev/null || true
bench_web=""

template=$(psql "$url" -Atc "SELECT count(*) FROM events")
copies=$(( (target + template - 1) / template - 1 ))  # besides the template
fsm_log "cloning $template template events $copies times"
psql "$url" -q -v copies="$copies" -f bench/sql/clone_events.sql
psql "$url" -qc "VACUUM ANALYZE"
events=$(psql "$url" -Atc "SELECT count(*) FROM events")
mix=$(psql "$url" -Atc "SELECT json_object_agg(stream_type, n) FROM
  (SELECT stream_type, count(*) n FROM events GROUP BY 1 ORDER BY 2 DESC) s")

fsm_log "baseline: INSERT … SELECT of $events events into a jobs-like table"
base_s=$(psql "$url" -Atq -f bench/sql/insert_select.sql | tail -1)

fsm_log "fsmctl projections rebuild --all"
t0=$(date +%s.%N)
fsmctl projections rebuild --all >&2
rebuild_s=$(echo "$(date +%s.%N) - $t0" | bc)

fsm_log "fsmctl projections verify --all"
t0=$(date +%s.%N)
fsmctl projections verify --all >&2
verify_s=$(echo "$(date +%s.%N) - $t0" | bc)

jq -n --argjson events "$events" --argjson mix "$mix" --argjson base "$base_s" \
  --argjson rebuild "$rebuild_s" --argjson verify "$verify_s" '{
  events: $events, mix: $mix,
  insert_select: {seconds: $base, events_per_s: ($events / $base | floor)},
  rebuild: {seconds: $rebuild, events_per_s: ($events / $rebuild | floor)},
  ratio_rebuild_to_insert_select: ($base / $rebuild),
  verify: {seconds: $verify, events_per_s: ($events / $verify | floor)},
  bars: {rebuild_events_per_s: ">= 100000", ratio: ">= 0.50", verify_seconds: "< 30"}
}'
