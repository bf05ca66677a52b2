// Commands of estimates and invoices (domain/estimate.h, domain/invoice.h):
// numbering under a per-account lock, conversion, payments.
#include "domain/invoice.h"

#include "commands/services.h"
#include "common/time.h"
#include "common/uuid.h"
#include "domain/estimate.h"
#include "events/pg_event_store.h"
#include "projections/entity_reads.h"

namespace fsm::commands {
namespace {

// Takes the account's next invoice number for `invoice_id` in `tx`: a
// per-account transaction lock, then an append to the numbering stream at
// the version just read. A rolled-back creation consumes no number.
int take_invoice_number(pqxx::work& tx, const Actor& actor, const std::string& invoice_id) {
  const std::string stream = domain::invoice::numbering_stream(actor.account_id);
  tx.exec_params("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", stream);
  auto cur = tx.exec_params("SELECT version FROM streams WHERE stream_id = $1::uuid", stream);
  const int assigned = cur.empty() ? 0 : cur[0][0].as<int>();
  if (!append_and_project(tx, actor, stream, domain::invoice::kNumberingStreamType, assigned,
                          {domain::invoice::number_assigned(invoice_id, assigned + 1)})) {
    throw std::logic_error("the invoice numbering stream moved under its lock");
  }
  return assigned + 1;
}

std::string now_text() {
  return format_rfc3339(now());
}

}  // namespace

namespace estimate {

namespace rules = domain::estimate;

Result<Outcome> create(const Context& ctx, const nlohmann::json& fields) {
  return run_creation(ctx, rules::kKind, rules::create(fields, ctx.actor.account_id));
}

Result<Outcome> patch(const Context& ctx, const Target& target, const nlohmann::json& patch) {
  return run_patch(ctx, rules::kKind, target, patch, rules::patch, rules::patch_references);
}

Result<Outcome> transition(const Context& ctx, const Target& target, const std::string& to) {
  return run_transition(ctx, rules::kKind, target, to, rules::transition);
}

// Exactly one invoice per estimate: the conversion runs on the estimate's
// stream, so concurrent conversions queue on its lock; the first creates the
// invoice and records it on the estimate, the others find it recorded.
Result<Converted> convert(const Context& ctx, const Target& target) {
  auto cmd = acting_on(rules::kKind, target);
  std::string invoice_id;
  cmd.decide = [&](const domain::EntityState& s,
                   pqxx::work& tx) -> Result<std::vector<domain::DomainEvent>> {
    invoice_id = rules::converted(s);
    if (!invoice_id.empty()) return domain::Events{};
    invoice_id = new_uuid();
    auto converted = rules::convert(s, target.id, invoice_id, ctx.actor.account_id);
    if (!converted) return converted.error();
    auto& conversion = converted.value();
    domain::invoice::number(conversion.invoice_created,
                            take_invoice_number(tx, ctx.actor, invoice_id));
    if (!append_and_project(tx, ctx.actor, invoice_id, domain::invoice::kKind.stream_type, 0,
                            {conversion.invoice_created})) {
      throw std::logic_error("a fresh invoice id collided");
    }
    return conversion.estimate_events;
  };
  auto outcome = run(ctx, cmd);
  if (!outcome) return outcome.error();
  return Converted{invoice_id, !outcome->events.empty()};
}

}  // namespace estimate

namespace invoice {

namespace rules = domain::invoice;

Result<Outcome> create(const Context& ctx, const nlohmann::json& fields) {
  auto creation = rules::create(fields, ctx.actor.account_id);
  if (!creation) return creation.error();
  const domain::DomainEvent unnumbered = creation->event;
  auto cmd = creating(rules::kKind, std::move(creation).value());
  // The number is taken in the creating transaction, under its lock.
  cmd.creation.reset();
  cmd.decide = [&](const domain::EntityState&, pqxx::work& tx) {
    domain::DomainEvent created = unnumbered;
    rules::number(created, take_invoice_number(tx, ctx.actor, cmd.stream_id));
    return Result<std::vector<domain::DomainEvent>>(domain::Events{std::move(created)});
  };
  return run(ctx, cmd);
}

Result<Outcome> patch(const Context& ctx, const Target& target, const nlohmann::json& patch) {
  return run_patch(ctx, rules::kKind, target, patch, rules::patch, rules::patch_references);
}

Result<Outcome> transition(const Context& ctx, const Target& target, const std::string& to) {
  return run_transition(ctx, rules::kKind, target, to, rules::transition);
}

Result<Outcome> record_payment(const Context& ctx, const Target& target,
                               const nlohmann::json& payment, const std::string& payment_id) {
  const std::string now = now_text();
  nlohmann::json with_id = payment;
  with_id["id"] = payment_id;
  return run(ctx, deciding(rules::kKind, target,
                           [&](const auto& s) { return rules::record_payment(s, with_id, now); }));
}

Result<Outcome> remove_payment(const Context& ctx, const std::string& payment_id) {
  const std::string invoice_id = ctx.pool.run([&](pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);
    auto r = projections::exec_cached(
        tx, "SELECT invoice_id::text FROM payments WHERE id = $1::uuid AND account_id = $2::uuid",
        {payment_id, ctx.actor.account_id});
    return r.empty() ? std::string() : std::string(r[0][0].c_str());
  });
  if (invoice_id.empty()) return Error::of(ErrorCode::kNotFound, "not found");
  auto cmd = acting_on(rules::kKind, {invoice_id});
  cmd.decide = [&](const domain::EntityState& s,
                   pqxx::work& tx) -> Result<std::vector<domain::DomainEvent>> {
    // Under the invoice's lock: is the payment still there?
    auto still =
        tx.exec_params("SELECT amount_cents FROM payments WHERE id = $1::uuid", payment_id);
    if (still.empty()) return Error::of(ErrorCode::kNotFound, "not found");
    const auto due = s.str("due_date");
    const auto due_at = due.empty() ? std::nullopt : parse_rfc3339(due);
    return rules::remove_payment(s, payment_id, still[0][0].as<std::int64_t>(),
                                 due_at && *due_at < now());
  };
  return run(ctx, cmd);
}

}  // namespace invoice
}  // namespace fsm::commands
