#include "projections/bulk_replay.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <pqxx/tablewriter>
#include <stdexcept>
#include <thread>

#include "events/event_columns.h"
#include "projections/entity_projector.h"

namespace fsm::projections {
namespace {

using nlohmann::json;

// COPY's text format: backslash, newline, carriage return and tab escaped.
void append_escaped(std::string& out, std::string_view text) {
  for (const char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
}

// A JSON value as COPY text for its column: what jsonb_populate_record (the
// live path) hands the column's input function.
void append_value(std::string& out, const json* v) {
  if (!v || v->is_null()) {
    out += "\\N";
  } else if (v->is_string()) {
    append_escaped(out, v->get_ref<const std::string&>());
  } else if (v->is_boolean()) {
    out += v->get<bool>() ? "t" : "f";
  } else if (v->is_number()) {
    out += v->dump();
  } else {
    append_escaped(out, v->dump());
  }
}

void append_line(std::string& out, const json& row, const std::vector<std::string>& columns) {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (i) out += '\t';
    auto it = row.find(columns[i]);
    append_value(out, it == row.end() ? nullptr : &*it);
  }
  out += '\n';
}

// The COPY columns of an entity table and of its line items, built once.
struct CopyColumns {
  std::vector<std::string> row, lines;
};
const CopyColumns& copy_columns(const EntityTable& t) {
  static const std::map<const EntityTable*, CopyColumns> all = [] {
    std::map<const EntityTable*, CopyColumns> m;
    for (const auto& e : entity_tables()) {
      auto& c = m[&e];
      c.row = stored_columns(e);
      if (e.line_items) c.lines = stored_columns(*e.line_items);
    }
    return m;
  }();
  return all.at(&t);
}

// Output lines per table, handed to the writer in batches.
class Output {
 public:
  Output(const std::function<void(const TableBatch&)>& write, std::size_t flush_rows,
         std::size_t flush_bytes)
      : write_(write), flush_rows_(flush_rows), flush_bytes_(flush_bytes) {}

  void add(const std::string& table, const std::vector<std::string>& columns, const json& row) {
    auto& b = buffers_[table];
    if (b.table.empty()) {
      b.table = table;
      b.columns = columns;
    }
    append_line(b.text, row, columns);
    if (b.text.size() >= flush_bytes_ || ++b.rows >= flush_rows_) flush(b);
  }

  void flush_all() {
    for (auto& [_, b] : buffers_) flush(b);
  }

 private:
  void flush(TableBatch& b) {
    if (b.rows == 0) return;
    write_(b);
    b.text.clear();
    b.rows = 0;
  }

  std::function<void(const TableBatch&)> write_;
  std::size_t flush_rows_;
  std::size_t flush_bytes_;
  std::map<std::string, TableBatch> buffers_;
};

// One stream's rows, folded event by event exactly as the live statements
// apply them (insert once, update an existing row, delete, line items only
// with a written row, payments recorded once and removed by id).
class StreamFold {
 public:
  StreamFold(const Selection& selection, Output& out) : selection_(selection), out_(out) {}

  void apply(const events::RecordedEvent& e) {
    if (e.stream_id != stream_id_) {
      finish();
      stream_id_ = e.stream_id;
      table_ = entity_table_for(e.stream_type);
    }
    if (table_ && selection_.has(table_->table)) apply_row(e);
    if (selection_.has("payments")) apply_payment(e);
  }

  // Writes the current stream's rows.
  void finish() {
    if (table_ && row_) out_.add(table_->table, copy_columns(*table_).row, *row_);
    if (table_ && table_->line_items && lines_ && lines_->is_array()) {
      const auto& li = *table_->line_items;
      for (json item : *lines_) {
        item["account_id"] = lines_account_;
        item[li.parent_column] = stream_id_;
        out_.add(li.table, copy_columns(*table_).lines, item);
      }
    }
    static const auto kPaymentColumns = stored_columns(payments_table());
    for (const auto& p : payments_) out_.add(payments_table().table, kPaymentColumns, p);
    row_.reset();
    lines_.reset();
    payments_.clear();
    table_ = nullptr;
    stream_id_.clear();
  }

 private:
  void apply_row(const events::RecordedEvent& e) {
    RowChange change = row_change(*table_, e);
    bool written = false;
    switch (change.kind) {
      case RowChange::Kind::kInsert:
        if (!row_) {
          row_ = std::move(change.fields);
          written = true;
        }
        break;
      case RowChange::Kind::kUpdate:
        if (row_) {
          for (auto& [k, v] : change.fields.items()) (*row_)[k] = std::move(v);
          written = true;
        }
        break;
      case RowChange::Kind::kDelete:
        row_.reset();
        break;
      case RowChange::Kind::kNone:
        break;
    }
    if (written && change.line_items) {
      lines_ = *change.line_items;
      lines_account_ = e.metadata.value("account_id", json());
    }
  }

  void apply_payment(const events::RecordedEvent& e) {
    PaymentChange change = payment_change(e);
    auto same = [&](const json& p) {
      return p.value("id", json()) == (change.kind == PaymentChange::Kind::kRecord
                                           ? change.row.value("id", json())
                                           : json(change.id));
    };
    if (change.kind == PaymentChange::Kind::kRecord) {
      if (std::none_of(payments_.begin(), payments_.end(), same)) {
        payments_.push_back(std::move(change.row));
      }
    } else if (change.kind == PaymentChange::Kind::kRemove) {
      std::erase_if(payments_, same);
    }
  }

  const Selection& selection_;
  Output& out_;
  std::string stream_id_;
  const EntityTable* table_ = nullptr;
  std::optional<json> row_;
  std::optional<json> lines_;
  json lines_account_;
  std::vector<json> payments_;
};

// What the fold reads of an event: the projector's decisions use the
// metadata's account_id only, so the rest of it is neither sent nor parsed.
const events::EventColumns kFoldColumns(events::EventColumns::kPosition |
                                        events::EventColumns::kStreamId |
                                        events::EventColumns::kStreamType |
                                        events::EventColumns::kVersion |
                                        events::EventColumns::kType | events::EventColumns::kData |
                                        events::EventColumns::kAccountId |
                                        events::EventColumns::kRecordedAt);

}  // namespace

bool ReplayLimit::excludes(const events::RecordedEvent& e) const {
  if (position && e.position > *position) return true;
  // At the API's precision: an entity shown as created at ...123Z exists as
  // of ...123Z.
  return at && std::chrono::floor<std::chrono::milliseconds>(e.recorded_at) > *at;
}

struct BulkFold::Impl {
  Impl(const Selection& selection, const std::function<void(const TableBatch&)>& write,
       std::size_t flush_rows, std::size_t flush_bytes)
      : out(write, flush_rows, flush_bytes), fold(selection, out) {}
  Output out;
  StreamFold fold;
};

BulkFold::BulkFold(const Selection& selection, const std::function<void(const TableBatch&)>& write,
                   std::size_t flush_rows, std::size_t flush_bytes)
    : impl_(std::make_unique<Impl>(selection, write, flush_rows, flush_bytes)) {}
BulkFold::~BulkFold() = default;
void BulkFold::apply(const events::RecordedEvent& e) { impl_->fold.apply(e); }
void BulkFold::finish() {
  impl_->fold.finish();
  impl_->out.flush_all();
}

Selection select_projections(const std::vector<std::string>& names) {
  Selection s;
  const auto& known = projection_names();
  for (const auto& name : names.empty() ? known : names) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (const auto& k : known) {
        if (!list.empty()) list += ", ";
        list += k;
      }
      throw std::invalid_argument("unknown projection '" + name + "' (known: " + list + ")");
    }
    s.tables.insert(name);
    const EntityTable* t = nullptr;
    for (const auto& e : entity_tables()) {
      if (e.table == name) t = &e;
    }
    if (t && t->line_items) s.tables.insert(t->line_items->table);
  }
  return s;
}

std::vector<std::string> Selection::stream_types() const {
  if (has("audit_log")) return {};
  std::vector<std::string> types;
  for (const auto& t : entity_tables()) {
    if (has(t.table) || (t.stream_type == "invoice" && has("payments"))) types.push_back(t.stream_type);
  }
  return types;
}

std::string Selection::stream_filter(const pqxx::transaction_base& tx, const std::string& keyword,
                                     const std::string& table) const {
  const auto types = stream_types();
  if (types.empty()) return "";
  std::string list;
  for (const auto& t : types) {
    list += list.empty() ? "'" : ", '";
    list += tx.esc(t);
    list += '\'';
  }
  return keyword + table + ".stream_type IN (" + list + ")";
}

void copy_into(pqxx::transaction_base& tx, const TableBatch& batch) {
  // libpqxx 6.4's stream_to keeps its raw-line writer private; tablewriter is
  // the same COPY with it public (deprecated in favour of stream_to there).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  pqxx::tablewriter w(tx, batch.table, batch.columns.begin(), batch.columns.end());
  // One call: COPY data may be sent in chunks of any size (the writer adds
  // the last newline itself).
  if (batch.rows) w.write_raw_line(batch.text.substr(0, batch.text.size() - 1));
  w.complete();
#pragma GCC diagnostic pop
}

namespace {

// A bounded hand-off between two threads. close() wakes both sides: pop()
// then answers nullopt once the queue is empty, push() drops its item and
// answers false.
template <typename T>
class Channel {
 public:
  explicit Channel(std::size_t capacity) : capacity_(capacity) {}
  bool push(T item) {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    changed_.notify_all();
    return true;
  }
  std::optional<T> pop() {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    changed_.notify_all();
    return item;
  }
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<T> items_;
  std::size_t capacity_;
  bool closed_ = false;
};

// A thread that runs `body` and keeps what it threw for the caller.
class Worker {
 public:
  explicit Worker(std::function<void()> body)
      : thread_([this, body = std::move(body)] {
          try {
            body();
          } catch (...) {
            error_ = std::current_exception();
          }
        }) {}
  ~Worker() {
    if (thread_.joinable()) thread_.join();
  }
  void join_and_rethrow() {
    thread_.join();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace

long long bulk_replay(pqxx::transaction_base& reader,
                      const std::function<void(const TableBatch&)>& write,
                      const BulkOptions& options) {
  // The audit log is not folded (replay_audit): the events of stream types
  // without a table are left out when it is the reason they were needed.
  Selection folded = options.selection;
  folded.tables.erase("audit_log");
  if (folded.tables.empty()) return 0;
  const std::string where = folded.stream_filter(reader, " WHERE ");
  // For progress: a stream's version is its number of events (both written
  // by the append's transaction), and `streams` is a fraction of `events`.
  const long long total = reader
                              .exec1("SELECT coalesce(sum(version), 0) FROM streams" +
                                     folded.stream_filter(reader, " WHERE ", "streams"))[0]
                              .as<long long>();
  reader.exec("DECLARE fsm_bulk_replay NO SCROLL CURSOR FOR SELECT " + kFoldColumns.select_list() +
              " FROM events" + where + " ORDER BY events.stream_id, events.stream_version");
  // Three stages, so the database's work (producing rows, storing them)
  // overlaps ours: the reader thread fetches, this thread parses and folds
  // (allocating and freeing in one thread), the writer thread copies.
  Channel<pqxx::result> fetched(2);
  Channel<TableBatch> batches(2);
  // A stage that fails closes its channels, so no other waits on it forever.
  Worker reading([&] {
    try {
      for (;;) {
        auto rows = reader.exec("FETCH 5000 FROM fsm_bulk_replay");
        if (rows.empty()) break;
        if (!fetched.push(std::move(rows))) break;
      }
    } catch (...) {
      fetched.close();
      throw;
    }
    fetched.close();
  });
  Worker writing([&] {
    try {
      while (auto b = batches.pop()) write(*b);
    } catch (...) {
      batches.close();
      fetched.close();
      throw;
    }
  });
  long long done = 0, reported = 0;
  try {
    BulkFold fold(
        folded, [&](const TableBatch& b) { batches.push(b); }, options.flush_rows,
        options.flush_bytes);
    std::string stopped_stream;  // a stream past the limit: its later events are skipped
    while (auto rows = fetched.pop()) {
      for (const auto& r : *rows) {
        const auto e = kFoldColumns.decode(r);
        if (options.until.any() && (e.stream_id == stopped_stream || options.until.excludes(e))) {
          stopped_stream = e.stream_id;
          continue;
        }
        fold.apply(e);
        ++done;
      }
      if (options.progress && done - reported >= 100000) {
        options.progress(done, total);
        reported = done;
      }
    }
    fold.finish();
  } catch (...) {
    fetched.close();
    batches.close();
    throw;  // the Workers join on the way out
  }
  batches.close();
  reading.join_and_rethrow();
  writing.join_and_rethrow();
  reader.exec("CLOSE fsm_bulk_replay");
  if (options.progress) options.progress(done, total);
  return done;
}

}  // namespace fsm::projections
