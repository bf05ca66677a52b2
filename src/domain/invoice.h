// An invoice: what a client owes, and the payments against it.
//
// draft → sent | void; sent → partial | paid | overdue | void; partial →
// paid | overdue | void; overdue → partial | paid | void. Status agrees with
// money: `paid` needs paid_cents >= total_cents, `partial` 0 < paid_cents <
// total_cents, `sent` and `overdue` paid_cents < total_cents (a zero-total
// invoice is never sent; it can be voided). Only a draft is editable.
//
// Payments are events on the invoice's stream (InvoicePaymentRecorded /
// InvoicePaymentRemoved) carrying `changes` ({paid_cents, status, paid_at}),
// so status and paid_cents move in the same event as the money.
//
// Numbers (INV-0001, ...) are unique and gap-free per account: each is an
// InvoiceNumberAssigned event on the account's numbering stream, appended at
// the version the command read under a per-account lock, in the invoice's
// own transaction (a rolled-back creation consumes no number).
#pragma once

#include <cstdint>

#include "domain/aggregate.h"

namespace fsm::domain::invoice {

inline constexpr Kind kKind{"invoice", "Invoice"};

const std::vector<std::string>& statuses();
const std::vector<FieldSpec>& create_fields();
const std::vector<FieldSpec>& patch_fields();
const std::vector<FieldSpec>& payment_fields();
const std::vector<std::string>& payment_methods();
bool transition_allowed(const std::string& from, const std::string& to);

// A new invoice's data from its fields: draft, nothing paid.
nlohmann::json draft(const nlohmann::json& fields);
// `fields` validated (document::validate with create_fields()): priced,
// draft; numbered (`number`) in the creating transaction.
Result<Creation> create(const nlohmann::json& fields, const std::string& account_id);
Result<Events> patch(const EntityState& invoice, const nlohmann::json& patch);
std::vector<Reference> patch_references(const EntityState& invoice, const nlohmann::json& patch);
// `now` (RFC 3339): sent sets sent_at, paid sets paid_at.
Result<Events> transition(const EntityState& invoice, const std::string& to,
                          const std::string& now);

// ---- numbering
// The account's numbering stream (a fixed id derived from the account).
std::string numbering_stream(const std::string& account_id);
inline constexpr const char* kNumberingStreamType = "invoice_numbers";
// Number n (the numbering stream's version after it) for `invoice_id`.
DomainEvent number_assigned(const std::string& invoice_id, int number);
std::string number_text(int number);  // INV-0001
// Gives the InvoiceCreated event `created` its number.
void number(DomainEvent& created, int number);

// ---- payments
// Recording: only on sent, partial or overdue invoices (INVALID_TRANSITION);
// 0 < amount <= balance (VALIDATION_ERROR). `payment`: validated by
// payment_fields() with its `id`; received_at defaults to `now`.
Result<Events> record_payment(const EntityState& invoice, nlohmann::json payment,
                              const std::string& now);
// Removing a payment of `amount_cents`: paid_cents and status recomputed
// (paid → partial, or at zero back to sent, or overdue when `past_due`).
Result<Events> remove_payment(const EntityState& invoice, const std::string& payment_id,
                              std::int64_t amount_cents, bool past_due);

}  // namespace fsm::domain::invoice
