// Estimates, invoices and payments: their state machines and what each
// status lets change. Pure: the current state, the input and the time come in
// as arguments; totals are computed in domain/money.
//
// Payment events live on the invoice's stream (InvoicePaymentRecorded /
// InvoicePaymentRemoved) and carry `changes` ({paid_cents, status, paid_at}),
// so the invoice's status and paid_cents move in the same event as the money.
#pragma once

#include <cstdint>
#include <string>

#include "domain/entity.h"
#include "domain/rules.h"

namespace fsm::domain {

// ---- estimates
// draft → sent; sent → approved | declined | expired; the rest terminal.
bool estimate_transition_allowed(const std::string& from, const std::string& to);
// `now` (RFC 3339) becomes sent_at on draft → sent.
Result<Events> decide_estimate_transition(const EntityState& estimate, const std::string& to,
                                          const std::string& now);
// In draft anything may change (line_items whole, with recomputed totals in
// `patch`); in sent only internal_notes; afterwards nothing (IMMUTABLE_ENTITY).
Result<Events> decide_estimate_patch(const EntityState& estimate, const nlohmann::json& patch);

// ---- invoices
// draft → sent | void; sent → partial | paid | overdue | void;
// partial → paid | overdue | void; overdue → partial | paid | void.
bool invoice_transition_allowed(const std::string& from, const std::string& to);
// Status must agree with money: `paid` needs paid_cents >= total_cents,
// `partial` needs 0 < paid_cents < total_cents, `sent` and `overdue` need
// paid_cents < total_cents (so a zero-total invoice is never sent; it can be
// voided). sent sets sent_at, paid sets paid_at.
Result<Events> decide_invoice_transition(const EntityState& invoice, const std::string& to,
                                         const std::string& now);
// Only a draft invoice is editable.
Result<Events> decide_invoice_patch(const EntityState& invoice, const nlohmann::json& patch);

// ---- payments
// Recording: only on sent, partial or overdue invoices (INVALID_TRANSITION);
// 0 < amount <= balance (VALIDATION_ERROR). paid_cents and status move with it.
// `payment`: the validated payment with its id ({id, amount_cents, method,
// received_at, notes}); it travels in the event.
Result<Events> decide_payment(const EntityState& invoice, const nlohmann::json& payment,
                              const std::string& now);
// Removing: paid_cents and status recomputed (paid → partial, or at zero back
// to sent, or overdue when `past_due`).
Result<Events> decide_payment_removal(const EntityState& invoice, const std::string& payment_id,
                                      std::int64_t amount_cents, bool past_due);

}  // namespace fsm::domain
