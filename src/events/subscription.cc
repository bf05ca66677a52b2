#include "events/subscription.h"

#include <charconv>
#include <stdexcept>
#include <utility>

#include "events/pg_event_store.h"

namespace fsm::events {
namespace {

// Prepares `sql` under `name` on first use on the connection (libpqxx
// ignores a redefinition with the same text), so any pool serves.
template <typename... Params>
pqxx::result exec(pqxx::transaction_base& tx, const char* name, const char* sql,
                  const Params&... params) {
  tx.conn().prepare(name, sql);
  return tx.exec_prepared(name, params...);
}

Checkpoint load(pqxx::transaction_base& tx, const std::string& name) {
  const auto rows = exec(tx, "fsm_subscription_load",
                         "SELECT tx_id::text AS tx_id_text, position FROM projection_checkpoints"
                         " WHERE name = $1",
                         name);
  if (rows.empty()) return {};
  Checkpoint cp;
  const std::string_view tx_id = rows[0][0].c_str();
  if (std::from_chars(tx_id.data(), tx_id.data() + tx_id.size(), cp.tx_id).ec != std::errc()) {
    throw std::runtime_error("bad xid8 in projection_checkpoints");
  }
  cp.position = rows[0][1].as<std::int64_t>();
  return cp;
}

// The WHERE is the backstop of "never backwards"; the name's lock and the
// re-read checkpoint are what keep it from ever applying.
void save(pqxx::transaction_base& tx, const std::string& name, Checkpoint cp) {
  exec(tx, "fsm_subscription_save",
       "INSERT INTO projection_checkpoints (name, tx_id, position, updated_at)"
       " VALUES ($1, $2::text::xid8, $3::bigint, now())"
       " ON CONFLICT (name) DO UPDATE SET tx_id = EXCLUDED.tx_id, position = EXCLUDED.position,"
       "  updated_at = now()"
       " WHERE (projection_checkpoints.tx_id, projection_checkpoints.position)"
       "  < (EXCLUDED.tx_id, EXCLUDED.position)",
       name, std::to_string(cp.tx_id), cp.position);
}

// Until the transaction ends. An advisory lock takes no transaction id, so a
// handler that has not written yet holds back no reader of the log. Its own
// key space (two int4 keys) keeps it apart from one-key locks (rebuild's).
void lock_name(pqxx::transaction_base& tx, const std::string& name) {
  exec(tx, "fsm_subscription_lock",
       "SELECT pg_advisory_xact_lock(hashtext('fsm_subscription'), hashtext($1))", name);
}

}  // namespace

Subscription::Subscription(PgPool& pool, std::string name, Handler handler, int batch_size)
    : pool_(pool), name_(std::move(name)), handler_(std::move(handler)), batch_size_(batch_size) {
  if (name_.empty()) throw std::invalid_argument("a subscription needs a name");
  if (!handler_) throw std::invalid_argument("a subscription needs a handler");
  if (batch_size_ <= 0) throw std::invalid_argument("batch_size must be > 0");
}

std::size_t Subscription::poll() {
  // Safe to repeat after a broken connection (PgPool::run): it starts again
  // from the stored checkpoint.
  return pool_.run([&](pqxx::connection& conn) {
    ReadAllBatch batch;
    {
      pqxx::read_transaction tx(conn);
      batch = PgEventStore::read_all_in(tx, load(tx, name_), batch_size_);
    }
    std::size_t handled = 0;
    for (const auto& e : batch.events) {
      if (handle(conn, e)) ++handled;
    }
    return handled;
  });
}

bool Subscription::handle(pqxx::connection& conn, const RecordedEvent& e) {
  pqxx::work tx(conn);
  lock_name(tx, name_);
  // Reads are prefixes of one order, so the stored checkpoint is this event's
  // predecessor (handle it) or at or past it (another object of this name has).
  if (!(load(tx, name_) < e.checkpoint())) return false;
  handler_(tx, e);
  save(tx, name_, e.checkpoint());
  tx.commit();
  return true;
}

Checkpoint Subscription::checkpoint() {
  return pool_.run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    return load(tx, name_);
  });
}

}  // namespace fsm::events
