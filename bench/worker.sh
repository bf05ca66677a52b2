#!/usr/bin/env bash
# fsm-worker's pass over a large account, against this machine's own limit:
#   1. 100,000 scheduled visits and 50,000 open invoices, nothing due: the
#      cost of looking (the pass runs every WORKER_POLL_MS);
#   2. the same with 1,000 visits due their reminder: each reminder is one
#      append (a stream created, its event, the audit row) in its own
#      transaction, so the bar is pgbench's single-client raw INSERT rate;
#   3. fsm-worker's peak RSS over both (bar: < 24 MB).
# The read tables are filled with SQL (a pass reads only them and `streams`;
# how their rows came to be does not change its cost). A private cluster with
# fsync on (production settings). Usage: bench/worker.sh
set -euo pipefail
source "$(dirname "$0")/../ops/lib/common.sh"
source "$(dirname "$0")/lib.sh"
cd "$FSM_ROOT"

bench_setup
psql "$url" -q -f bench/sql/raw_events.sql
echo "bench-password-1234" | build/release/src/fsmctl --database-url "$url" account create \
  --name Bench --owner-email bench@ai-fsm.local --owner-name Bench >/dev/null
account=$(psql "$url" -Atc "SELECT id FROM accounts LIMIT 1")

fsm_log "seeding 100,000 scheduled visits and 50,000 open invoices"
psql "$url" -q -v ON_ERROR_STOP=1 -v account="$account" <<'SQL'
INSERT INTO clients (id, account_id, name, version, created_at, updated_at)
VALUES ('00000000-0000-7000-8000-000000000001', :'account', 'Bench client', 1, now(), now());
INSERT INTO jobs (id, account_id, client_id, title, priority, status, version, created_at, updated_at)
VALUES ('00000000-0000-7000-8000-000000000002', :'account', '00000000-0000-7000-8000-000000000001',
        'Boiler service', 'normal', 'scheduled', 1, now(), now());
-- Visits from 2 days ahead on, one a minute: none within a reminder's 24 h.
INSERT INTO visits (id, account_id, job_id, status, scheduled_start, scheduled_end, version,
                    created_at, updated_at)
SELECT gen_random_uuid(), :'account', '00000000-0000-7000-8000-000000000002', 'scheduled',
       now() + interval '2 days' + g * interval '1 minute',
       now() + interval '2 days' + g * interval '1 minute' + interval '1 hour', 1, now(), now()
FROM generate_series(1, 100000) g;
-- Open invoices due from tomorrow on: none overdue, none at a follow-up step.
INSERT INTO invoices (id, account_id, invoice_number, client_id, status, subtotal_cents,
                      tax_rate_bps, tax_cents, total_cents, paid_cents, due_date, sent_at,
                      version, created_at, updated_at)
SELECT gen_random_uuid(), :'account', 'INV-' || lpad(g::text, 6, '0'),
       '00000000-0000-7000-8000-000000000001', CASE WHEN g % 3 = 0 THEN 'partial' ELSE 'sent' END,
       10000, 0, 0, 10000, CASE WHEN g % 3 = 0 THEN 2500 ELSE 0 END,
       now() + interval '1 day' + g * interval '1 minute', now(), 2, now(), now()
FROM generate_series(1, 50000) g;
VACUUM ANALYZE;
SQL
password=bench-password-1234
bench_start_web "$url"
api="http://127.0.0.1:$bench_port/api/v1"
token=$(curl -sf "$api/auth/login" -H 'Content-Type: application/json' \
  -d "{\"email\": \"bench@ai-fsm.local\", \"password\": \"$password\"}" | jq -r .token)
for type in visit_reminder invoice_followup; do
  curl -sf "$api/automations" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"type\": \"$type\"}" >/dev/null
done

# One --once pass; prints its summary line's JSON and the peak RSS (MB).
worker_pass() {
  local out="$scratch/worker.out"
  /usr/bin/time -f '%M' -o "$scratch/worker.rss" env DATABASE_URL="$url" LOG_LEVEL=info \
    build/release/src/fsm-worker --once >"$out"
  jq -c 'select(.msg == "pass")' "$out" | tail -1
  awk '{print $1 / 1024}' "$scratch/worker.rss"
}
make_due() {  # the automations due again, as POST /automations/:id/run does
  for id in $(curl -sf "$api/automations" -H "Authorization: Bearer $token" | jq -r '.data[].id'); do
    curl -sf -X POST "$api/automations/$id/run" -H "Authorization: Bearer $token" >/dev/null
  done
}

fsm_log "pass with nothing due"
worker_pass >"$scratch/idle.txt"
idle=$(head -1 "$scratch/idle.txt")
idle_rss=$(tail -1 "$scratch/idle.txt")
fsm_log "pass with 1,000 visits due"
psql "$url" -qc "UPDATE visits SET scheduled_start = now() + interval '1 hour' + (random() * interval '20 hours'),
                 scheduled_end = now() + interval '22 hours'
                 WHERE id IN (SELECT id FROM visits ORDER BY scheduled_start LIMIT 1000)"
make_due
worker_pass >"$scratch/due.txt"
due=$(head -1 "$scratch/due.txt")
due_rss=$(tail -1 "$scratch/due.txt")
sent=$(echo "$due" | jq .sent)
[ "$sent" = 1000 ] || fsm_die "expected 1000 reminders, the pass sent $sent"

fsm_log "pgbench raw INSERT, 1 client (the worker appends one at a time), 10s"
pg_tps=$(pgbench -n -M prepared -c 1 -j 1 -T 10 -f bench/sql/raw_insert.sql "$url" 2>/dev/null |
  sed -nE 's/^tps = ([0-9.]+).*/\1/p' | head -1)
jq -n --argjson idle "$idle" --argjson due "$due" --argjson pg "$pg_tps" \
  --argjson idle_rss "$idle_rss" --argjson due_rss "$due_rss" '{
  visits: 100000, open_invoices: 50000,
  pass_nothing_due: ($idle + {rss_mb: $idle_rss}),
  pass_1000_due: ($due + {rss_mb: $due_rss}),
  reminders_per_s: (1000 / ($due.duration_ms / 1000)),
  pgbench_single_client_insert_tps: $pg,
  reminders_vs_raw_insert: ((1000 / ($due.duration_ms / 1000)) / $pg),
  bars: {rss_mb: "< 24"}
}'
