// fsmctl: the operator's command line. Every command reads DATABASE_URL unless
// --database-url is given, prints JSON on stdout, and exits with one of the
// codes below, so a cron job can tell "found a problem" from "could not look".
#include <sodium.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "commands/accounts.h"
#include "commands/command_runner.h"
#include "commands/services.h"
#include "common/log.h"
#include "common/time.h"
#include "common/uuid.h"
#include "domain/automation.h"
#include "events/migrator.h"
#include "events/pg_event_store.h"
#include "events/pg_pool.h"
#include "projections/entity_reads.h"
#include "projections/replay.h"

namespace {

// The exit codes (also in --help and ops/RUNBOOK.md).
enum Exit : int {
  kClean = 0,        // done; for a check: nothing wrong
  kCheckFailed = 1,  // the command ran and the answer is "no" (differences, not found, refused)
  kUsage = 2,        // bad command line: unknown command, flag or projection, missing argument
  kUnreachable = 3,  // cannot connect to the database
  kFailed = 4,       // anything else went wrong (the error is on stderr)
};

constexpr const char* kExitCodesHelp =
    "Exit codes:\n"
    "  0  clean: done, or the check found nothing wrong\n"
    "  1  check failed: `projections verify` found differences, `events show` found no such\n"
    "     event, `account create` was refused (invalid or duplicate values), `automations\n"
    "     run-now` found no such automation\n"
    "  2  usage error: unknown command, flag or projection name, missing or malformed\n"
    "     argument, DATABASE_URL not set\n"
    "  3  database unreachable: cannot connect (refused, unknown host, timeout, bad URL,\n"
    "     authentication failed) or the connection was lost\n"
    "  4  any other failure (a JSON error on stderr says what)";

// A command line that cannot be acted on, found after parsing.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// The command ran and its answer is negative (e.g. no such event).
struct CheckFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One line an operator can read: when, where, what, who, then the data.
void print_event(const fsm::events::RecordedEvent& e, bool as_json) {
  if (as_json) {
    std::cout << e.to_json().dump() << std::endl;
    return;
  }
  const auto who = e.metadata.value("actor_id", nlohmann::json());
  std::cout << "#" << e.position << "  " << fsm::format_rfc3339(e.recorded_at) << "  "
            << e.stream_type << "/" << e.stream_id << " v" << e.version << "  " << e.type
            << "  by " << (who.is_string() ? who.get<std::string>() : "system") << "  trace "
            << e.metadata.value("trace_id", nlohmann::json("-")).dump() << "\n    "
            << e.data.dump() << std::endl;
}

std::string database_url(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("DATABASE_URL");
  if (env && *env) return env;
  throw UsageError("DATABASE_URL is not set (or pass --database-url)");
}

}  // namespace

int main(int argc, char** argv) {
  fsm::log::init("fsmctl", std::getenv("LOG_LEVEL") ? std::getenv("LOG_LEVEL") : "warn");
  if (sodium_init() < 0) return kFailed;
  setenv("PGCONNECT_TIMEOUT", "5", 0);

  CLI::App app{"fsmctl: operate an ai-fsm installation"};
  app.require_subcommand(1);
  // Set before the subcommands are added, which inherit both: the options
  // below are accepted before or after the subcommand (`fsmctl events tail
  // --json` and `fsmctl --json events tail`), and every help shows the codes.
  app.fallthrough();
  app.footer(kExitCodesHelp);
  std::string db_flag;
  app.add_option("--database-url", db_flag, "PostgreSQL URL (default: $DATABASE_URL)");
  bool events_json = false;
  app.add_flag("--json", events_json,
               "events: one JSON object per line (the other commands always print JSON)");

  auto* migrate = app.add_subcommand("migrate", "apply pending database migrations");

  auto* account = app.add_subcommand("account", "accounts")->require_subcommand(1);
  auto* account_create =
      account->add_subcommand("create", "create an account and its owner; password on stdin");
  fsm::commands::NewAccount new_account;
  account_create->add_option("--name", new_account.name, "the business's name")->required();
  account_create->add_option("--owner-email", new_account.owner_email)->required();
  account_create->add_option("--owner-name", new_account.owner_name)->required();
  bool first_account = false;
  account_create->add_flag("--first", first_account,
                           "a first start: create it only if the database holds no account yet "
                           "(exit 0 either way)");

  auto* projections = app.add_subcommand("projections", "the read tables")->require_subcommand(1);
  auto* proj_status = projections->add_subcommand("status", "each projection's position and lag");
  auto* proj_verify = projections->add_subcommand(
      "verify", "replay the log into scratch tables and diff them with the live ones; exit 1 on "
                "any difference");
  auto* proj_rebuild = projections->add_subcommand(
      "rebuild", "replay the log into fresh tables and swap them in (blue/green)");
  // NAME… or --all (the default when neither is given).
  std::vector<std::string> proj_names;
  std::string names_help = "projections:";
  for (const auto& n : fsm::projections::projection_names()) names_help += " " + n;
  bool all_projections = false;
  for (auto* sub : {proj_verify, proj_rebuild}) {
    auto* names = sub->add_option("NAME", proj_names, names_help)
                      ->check(CLI::IsMember(fsm::projections::projection_names()));
    sub->add_flag("--all", all_projections, "every projection (the default)")->excludes(names);
  }
  std::string rebuild_until;
  proj_rebuild->add_option("--until", rebuild_until,
                           "POSITION or RFC 3339 TIMESTAMP: build the tables as of then in schema "
                           "fsm_until, for reading; nothing is swapped");
  int rebuild_batch = 50000;
  proj_rebuild->add_option("--batch", rebuild_batch, "rows per COPY transaction while replaying")
      ->check(CLI::Range(1, 10000000));

  auto* events_cmd = app.add_subcommand("events", "read the event log")->require_subcommand(1);
  auto* events_show = events_cmd->add_subcommand("show", "one event, or one stream's events");
  long long show_position = 0;
  std::string show_stream;
  events_show->add_option("position", show_position, "an event's position");
  events_show->add_option("--stream", show_stream, "every event of this stream, oldest first");
  auto* events_tail = events_cmd->add_subcommand(
      "tail", "the log after a position, in the order replays read it (never skips)");
  long long tail_after = 0;
  int tail_limit = 50;
  bool tail_follow = false;
  events_tail->add_option("--after", tail_after, "a position (default: the last --limit events)");
  events_tail->add_option("--limit", tail_limit, "how many events")->check(CLI::Range(1, 100000));
  events_tail->add_flag("-f,--follow", tail_follow, "keep printing new events as they commit");

  auto* automations_cmd =
      app.add_subcommand("automations", "the worker's automations")->require_subcommand(1);
  auto* automations_list = automations_cmd->add_subcommand(
      "list", "every automation, next to run first: one JSON object per line, as the API shows it");
  std::string list_account;
  automations_list->add_option("--account", list_account, "only this account's (its id)");
  auto* automations_run = automations_cmd->add_subcommand(
      "run-now",
      "make an automation due now: an event with actor operator:fsmctl, as "
      "POST /api/v1/automations/ID/run appends; prints the automation");
  std::string run_id;
  automations_run->add_option("ID", run_id, "the automation's id")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Prints the help (--help: exit 0) or the error and a hint.
    return app.exit(e) == 0 ? kClean : kUsage;
  }

  try {
    if (migrate->parsed()) {
      const auto report = fsm::events::migrate(database_url(db_flag));
      std::cout << nlohmann::json{{"applied", report.applied},
                                  {"current_version", report.current_version}}
                       .dump()
                << std::endl;
    }
    if (events_show->parsed()) {
      pqxx::connection conn(database_url(db_flag));
      fsm::events::PgEventStore::prepare(conn);
      pqxx::read_transaction tx(conn);
      std::string stream = show_stream;
      if (stream.empty()) {
        auto r = tx.exec_params("SELECT stream_id::text, stream_version FROM events"
                                " WHERE global_position = $1",
                                show_position);
        if (r.empty()) throw CheckFailed("no event at position " + std::to_string(show_position));
        for (const auto& e : fsm::events::PgEventStore::read_stream_in(tx, r[0][0].c_str(),
                                                                       r[0][1].as<int>())) {
          if (e.position == show_position) print_event(e, events_json);
        }
      } else {
        if (!fsm::is_uuid(stream)) throw UsageError("--stream must be a UUID");
        for (const auto& e : fsm::events::PgEventStore::read_stream_in(tx, stream, std::nullopt)) {
          print_event(e, events_json);
        }
      }
    }
    if (events_tail->parsed()) {
      pqxx::connection conn(database_url(db_flag));
      fsm::events::PgEventStore::prepare(conn);
      fsm::events::Checkpoint at{};
      {
        pqxx::read_transaction tx(conn);
        // Start after the given position, or `limit` events before the head.
        const long long from =
            tail_after > 0
                ? tail_after
                : tx.exec_params1("SELECT coalesce(max(global_position), 0) - $1 FROM events",
                                  tail_limit)[0]
                      .as<long long>();
        auto r = tx.exec_params("SELECT tx_id::text FROM events WHERE global_position <= $1"
                                " ORDER BY global_position DESC LIMIT 1",
                                from);
        if (!r.empty() && from > 0) at = {std::stoull(r[0][0].c_str()), from};
      }
      int printed = 0;
      for (;;) {
        pqxx::read_transaction tx(conn);
        auto batch = fsm::events::PgEventStore::read_all_in(tx, at, 500);
        for (const auto& e : batch.events) {
          print_event(e, events_json);
          ++printed;
        }
        at = batch.next;
        if (!tail_follow && (batch.events.size() < 500 || printed >= tail_limit)) break;
        if (batch.events.empty()) std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    }
    if (proj_status->parsed()) {
      pqxx::connection conn(database_url(db_flag));
      pqxx::read_transaction tx(conn);
      const long long head =
          tx.exec1("SELECT coalesce(max(global_position), 0) FROM events")[0].as<long long>();
      for (const auto& t : fsm::projections::projection_tables()) {
        const std::string column = t == "audit_log" ? "event_position"
                                   : t.ends_with("line_items") ? "" : "last_event_position";
        const long long applied =
            column.empty() ? head
                           : tx.exec1("SELECT coalesce(max(" + column + "), 0) FROM " + t)[0]
                                 .as<long long>();
        // Inline projections apply each event in the event's own transaction:
        // whatever is committed is applied. `applied` is the newest event
        // that touched this table.
        std::cout << nlohmann::json{{"projection", t},
                                    {"mode", "inline"},
                                    {"applied_position", applied},
                                    {"head", head},
                                    {"lag", 0}}
                         .dump()
                  << std::endl;
      }
    }
    if (proj_verify->parsed()) {
      const auto report = fsm::projections::verify(database_url(db_flag), proj_names);
      for (const auto& d : report.differences) {
        std::cout << nlohmann::json{{"table", d.table},
                                    {"id", d.id},
                                    {"live", nlohmann::json::parse(d.live)},
                                    {"replayed", nlohmann::json::parse(d.replayed)}}
                         .dump()
                  << std::endl;
      }
      std::cerr << nlohmann::json{{"events_replayed", report.events},
                                  {"differences", report.differences.size()},
                                  {"truncated", report.truncated}}
                       .dump()
                << std::endl;
      return report.differences.empty() ? kClean : kCheckFailed;
    }
    if (proj_rebuild->parsed()) {
      fsm::projections::RebuildOptions options;
      options.names = proj_names;
      options.batch_rows = static_cast<std::size_t>(rebuild_batch);
      if (!rebuild_until.empty()) {
        if (rebuild_until.find_first_not_of("0123456789") == std::string::npos) {
          options.until.position = std::stoll(rebuild_until);
        } else if (auto at = fsm::parse_rfc3339(rebuild_until)) {
          options.until.at = *at;
        } else {
          throw UsageError("--until: expected a position or an RFC 3339 timestamp");
        }
      }
      options.progress = [](long long done, long long total, double seconds) {
        const double rate = seconds > 0 ? done / seconds : 0.0;
        std::cerr << nlohmann::json{{"events", done},
                                    {"of", total},
                                    {"seconds", seconds},
                                    {"events_per_s", static_cast<long long>(rate)},
                                    {"eta_seconds", rate > 0 && total > done
                                                        ? (total - done) / rate
                                                        : 0.0}}
                         .dump()
                  << std::endl;
      };
      const auto report = fsm::projections::rebuild(database_url(db_flag), options);
      std::cout << nlohmann::json{{"events", report.events},
                                  {"seconds", report.seconds},
                                  {"schema", report.schema}}
                       .dump()
                << std::endl;
    }
    if (automations_list->parsed()) {
      if (!list_account.empty() && !fsm::is_uuid(list_account)) {
        throw UsageError("--account must be a UUID");
      }
      pqxx::connection conn(database_url(db_flag));
      pqxx::read_transaction tx(conn);
      const auto& table =
          fsm::projections::entity_table(fsm::domain::automation::kKind.stream_type);
      const auto rows = tx.exec_params("SELECT " + fsm::projections::row_json_sql(table) +
                                           " FROM " + table.table +
                                           " t WHERE $1 = '' OR t.account_id = NULLIF($1, '')::uuid"
                                           " ORDER BY t.next_run_at, t.id",
                                       list_account);
      for (const auto& r : rows) std::cout << r[0].c_str() << "\n";
      std::cout << std::flush;
    }
    if (automations_run->parsed()) {
      if (!fsm::is_uuid(run_id)) throw UsageError("ID must be a UUID");
      fsm::events::PgPool pool(database_url(db_flag), 1);
      pool.add_preparer(fsm::commands::prepare);
      const auto account = fsm::commands::automation::account_of(pool, run_id);
      if (!account) throw CheckFailed("no automation " + run_id);
      const fsm::commands::Actor actor{*account, fsm::commands::kFsmctlActor, "operator",
                                       fsm::new_uuid()};
      auto ran = fsm::commands::automation::run_now({pool, actor}, {run_id});
      // Deleted since: its stream is there, the automation is not.
      if (!ran) throw CheckFailed(ran.error().message + ": automation " + run_id);
      std::cout << ran->row << std::endl;
    }
    if (account_create->parsed()) {
      // One line from stdin, so the password never appears in argv or history.
      if (!std::getline(std::cin, new_account.password)) {
        throw UsageError("expected the owner's password on stdin");
      }
      if (!new_account.password.empty() && new_account.password.back() == '\r') {
        new_account.password.pop_back();
      }
      fsm::events::PgPool pool(database_url(db_flag), 1);
      pool.add_preparer(fsm::commands::prepare);
      auto hasher = fsm::commands::PasswordHasher::from_env();
      auto created = [&]() -> fsm::Result<std::optional<fsm::commands::CreatedAccount>> {
        if (first_account) {
          return fsm::commands::create_first_account(pool, *hasher, new_account, fsm::new_uuid());
        }
        auto one = fsm::commands::create_account(pool, *hasher, new_account, fsm::new_uuid());
        if (!one) return one.error();
        return std::optional{*one};
      }();
      if (created && !*created) {
        std::cout << nlohmann::json{{"skipped", "an account exists already"}}.dump() << std::endl;
        return kClean;
      }
      if (!created) {
        nlohmann::json issues = nlohmann::json::array();
        for (const auto& i : created.error().issues) {
          issues.push_back({{"field", std::get<std::string>(i.path.at(0))}, {"message", i.message}});
        }
        std::cerr << nlohmann::json{{"error", created.error().message}, {"issues", issues}}.dump()
                  << std::endl;
        return kCheckFailed;
      }
      std::cout << nlohmann::json{{"account_id", (*created)->account_id},
                                  {"owner_id", (*created)->owner_id}}
                       .dump()
                << std::endl;
    }
    return kClean;
  } catch (const UsageError& e) {
    std::cerr << nlohmann::json{{"error", e.what()}}.dump() << std::endl;
    return kUsage;
  } catch (const CheckFailed& e) {
    std::cerr << nlohmann::json{{"error", e.what()}}.dump() << std::endl;
    return kCheckFailed;
  } catch (const pqxx::broken_connection& e) {
    std::cerr << nlohmann::json{{"error", std::string("database unreachable: ") + e.what()}}.dump()
              << std::endl;
    return kUnreachable;
  } catch (const fsm::events::DbUnavailable& e) {
    std::cerr << nlohmann::json{{"error", e.what()}}.dump() << std::endl;
    return kUnreachable;
  } catch (const std::exception& e) {
    std::cerr << nlohmann::json{{"error", e.what()}}.dump() << std::endl;
    return kFailed;
  }
}
