// The columns of `events` as readers select them, and the one decoder of such
// a row into a RecordedEvent. A reader that needs fewer fields selects a
// subset (the bulk replay's cursor; an append, which reads back only what the
// database assigned): the SELECT list and the decoder come from the same
// table of columns, so the two cannot drift apart.
#pragma once

#include <pqxx/pqxx>
#include <string>

#include "events/event.h"

namespace fsm::events {

class EventColumns {
 public:
  // The fields, in the order they are selected.
  static constexpr unsigned kPosition = 1u << 0;
  static constexpr unsigned kTxId = 1u << 1;
  static constexpr unsigned kEventId = 1u << 2;
  static constexpr unsigned kStreamId = 1u << 3;
  static constexpr unsigned kStreamType = 1u << 4;
  static constexpr unsigned kVersion = 1u << 5;
  static constexpr unsigned kType = 1u << 6;
  static constexpr unsigned kSchemaVersion = 1u << 7;
  static constexpr unsigned kData = 1u << 8;
  static constexpr unsigned kMetadata = 1u << 9;
  // Instead of kMetadata: only the metadata's account_id, decoded as
  // `metadata` = {"account_id": ...}; the rest is neither sent nor parsed.
  static constexpr unsigned kAccountId = 1u << 10;
  static constexpr unsigned kRecordedAt = 1u << 11;

  constexpr explicit EventColumns(unsigned fields) : fields_(fields) {}
  // Every field: the whole event.
  static constexpr EventColumns all() {
    return EventColumns(kPosition | kTxId | kEventId | kStreamId | kStreamType | kVersion | kType |
                        kSchemaVersion | kData | kMetadata | kRecordedAt);
  }
  // What the database assigns on append (the rest is in the request).
  static constexpr EventColumns assigned() {
    return EventColumns(kPosition | kTxId | kVersion | kRecordedAt);
  }

  // The SELECT (or RETURNING) list over `events`, or over the row `alias`.
  // Every cast column has an alias of its own: SQL resolves an ORDER BY name
  // to an output column first, and `tx_id::text` left named `tx_id` once made
  // `ORDER BY tx_id` sort as text (docs/ARCHITECTURE.md).
  std::string select_list(const std::string& alias = "") const;
  // A row whose first columns are this select list; the fields not selected
  // keep their defaults. Columns after them are the caller's.
  RecordedEvent decode(const pqxx::row& row) const;

 private:
  unsigned fields_;
};

}  // namespace fsm::events
