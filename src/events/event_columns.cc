#include "events/event_columns.h"

#include <charconv>
#include <stdexcept>

namespace fsm::events {
namespace {

using nlohmann::json;

std::uint64_t parse_u64(const char* text) {
  const std::string_view s(text);
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size())
    throw std::runtime_error("bad xid8 from database");
  return v;
}

// One selectable field: `before` + [alias.]`column` + `after` in SQL, and how
// its value lands in the event.
struct Column {
  unsigned field;
  const char* before;
  const char* column;
  const char* after;
  void (*decode)(const pqxx::field&, RecordedEvent&);
};

const Column kColumns[] = {
    {EventColumns::kPosition, "", "global_position", "",
     [](const pqxx::field& f, RecordedEvent& e) { e.position = f.as<std::int64_t>(); }},
    {EventColumns::kTxId, "", "tx_id", "::text AS tx_id_text",
     [](const pqxx::field& f, RecordedEvent& e) { e.tx_id = parse_u64(f.c_str()); }},
    {EventColumns::kEventId, "", "event_id", "::text AS event_id_text",
     [](const pqxx::field& f, RecordedEvent& e) { e.event_id = f.c_str(); }},
    {EventColumns::kStreamId, "", "stream_id", "::text AS stream_id_text",
     [](const pqxx::field& f, RecordedEvent& e) { e.stream_id = f.c_str(); }},
    {EventColumns::kStreamType, "", "stream_type", "",
     [](const pqxx::field& f, RecordedEvent& e) { e.stream_type = f.c_str(); }},
    {EventColumns::kVersion, "", "stream_version", "",
     [](const pqxx::field& f, RecordedEvent& e) { e.version = f.as<int>(); }},
    {EventColumns::kType, "", "event_type", "",
     [](const pqxx::field& f, RecordedEvent& e) { e.type = f.c_str(); }},
    {EventColumns::kSchemaVersion, "", "schema_version", "",
     [](const pqxx::field& f, RecordedEvent& e) { e.schema_version = f.as<int>(); }},
    {EventColumns::kData, "", "data", "::text AS data_text",
     [](const pqxx::field& f, RecordedEvent& e) { e.data = json::parse(f.c_str()); }},
    {EventColumns::kMetadata, "", "metadata", "::text AS metadata_text",
     [](const pqxx::field& f, RecordedEvent& e) { e.metadata = json::parse(f.c_str()); }},
    {EventColumns::kAccountId, "", "metadata", "->>'account_id' AS metadata_account_id",
     [](const pqxx::field& f, RecordedEvent& e) {
       e.metadata = {{"account_id", f.is_null() ? json() : json(f.c_str())}};
     }},
    {EventColumns::kRecordedAt, "(extract(epoch FROM ", "recorded_at",
     ") * 1000000)::bigint AS recorded_at_us",
     [](const pqxx::field& f, RecordedEvent& e) {
       e.recorded_at = from_unix_micros(f.as<std::int64_t>());
     }},
};

}  // namespace

std::string EventColumns::select_list(const std::string& alias) const {
  std::string out;
  for (const auto& c : kColumns) {
    if (!(fields_ & c.field)) continue;
    if (!out.empty()) out += ", ";
    out += c.before;
    if (!alias.empty()) out += alias + ".";
    out += c.column;
    out += c.after;
  }
  return out;
}

RecordedEvent EventColumns::decode(const pqxx::row& row) const {
  RecordedEvent e;
  pqxx::row::size_type i = 0;
  for (const auto& c : kColumns) {
    if (fields_ & c.field) c.decode(row[i++], e);
  }
  return e;
}

}  // namespace fsm::events
