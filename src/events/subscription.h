// A named reader that follows the log after commit: automations, delivery of
// notifications, a ledger sealer. Each gets every committed event once, in
// (tx_id, position) order, through the gap-safe read
// (PgEventStore::read_all_in), from a checkpoint stored in PostgreSQL under
// its name (`projection_checkpoints`).
//
// Delivery is at least once. The handler runs inside a transaction, and the
// checkpoint moves past the event in that same transaction, so:
//  - what the handler writes through `tx` commits exactly once, together
//    with the checkpoint;
//  - anything else it does (a mail sent) happens at least once: it is done
//    again when the transaction does not commit (the handler threw, the
//    process died, the connection broke);
//  - a handler that throws leaves the checkpoint before its event, which the
//    next poll delivers again (and nothing after it meanwhile).
//
// Subscription objects of one name may run at once (two workers, a restart
// that overlaps the old process): each event's transaction takes the name's
// lock and re-reads the checkpoint, so an event one of them has handled is
// skipped by the other. A checkpoint never moves backwards.
//
// What it costs: until the handler writes, its transaction holds no
// transaction id; once it has written, every gap-safe reader of the cluster
// waits for it to end (docs/ARCHITECTURE.md, "Reading the log in order").
// Keep what follows a handler's first write short.
#pragma once

#include <cstddef>
#include <functional>
#include <pqxx/pqxx>
#include <string>

#include "events/event.h"
#include "events/pg_pool.h"

namespace fsm::events {

class Subscription {
 public:
  using Handler = std::function<void(pqxx::transaction_base& tx, const RecordedEvent& event)>;

  // `name` identifies the subscriber's checkpoint: keep it stable.
  Subscription(PgPool& pool, std::string name, Handler handler, int batch_size = 100);

  // Hands the events committed after the checkpoint to the handler, in
  // order, one transaction each, at most `batch_size` of them. Returns how
  // many it handled (0: nothing new yet). Rethrows what the handler threw,
  // after committing the events before it.
  std::size_t poll();

  // The stored checkpoint: the last event handled ({} before the first).
  Checkpoint checkpoint();

  const std::string& name() const { return name_; }

 private:
  // Handles `event` unless another object of this name already has.
  bool handle(pqxx::connection& conn, const RecordedEvent& event);

  PgPool& pool_;
  std::string name_;
  Handler handler_;
  int batch_size_;
};

}  // namespace fsm::events
