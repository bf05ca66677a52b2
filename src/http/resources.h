// Resource routes over the command runner and the read tables. Each resource
// states its roles, fields and list options; the mechanics (authentication,
// RBAC, tenant scoping, strict bodies and query parameters, If-Match, the
// error model) are shared.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "commands/command_runner.h"
#include "commands/passwords.h"
#include "domain/validation.h"
#include "events/pg_pool.h"
#include "http/auth.h"
#include "http/idempotency.h"
#include "http/router.h"
#include "projections/entity_reads.h"

namespace fsm::http {

using Roles = std::set<std::string>;

// A list filter: the query parameter `spec.name`, validated like a body field
// of that spec, compared as `column op value`.
struct Filter {
  domain::FieldSpec spec;
  std::string column = "";  // empty: spec.name
  std::string op = "=";
};

// What a list accepts: sort columns, filters, and the defaults.
struct ListOptions {
  std::set<std::string> sortable;
  std::vector<Filter> filters;
  std::string default_sort = "created_at";
  bool default_descending = true;
};

// Shared request plumbing, exposed for the resource implementations and tests.
Result<projections::ListQuery> parse_list_query(const Request& req, const ListOptions& options);
Result<std::optional<int>> parse_if_match(const Request& req);
// A decimal integer within [min, max], nothing else (no sign games, no spaces).
std::optional<long long> parse_integer(const std::string& text, long long min, long long max);

class Resources {
 public:
  Resources(events::PgPool& pool, const Auth& auth, commands::PasswordHasher& hasher,
            IdempotencyConfig idempotency = {});
  void register_routes(Router& router);

 private:
  // Authenticates and checks the role; the error response otherwise.
  std::variant<commands::Actor, Response> caller(const Request& req, const Roles& roles) const;

  // A command on an existing entity: the caller, the `:id` path parameter (a
  // UUID, else 404) and If-Match.
  struct Target {
    commands::Actor actor;
    std::string id;
    std::optional<int> if_match;

    // A command on this entity, conditional on If-Match when it was sent.
    commands::Command command(const std::string& stream_type) const {
      commands::Command c;
      c.stream_id = id;
      c.stream_type = stream_type;
      c.if_match = if_match;
      return c;
    }
  };
  std::variant<Target, Response> target(const Request& req, const Roles& roles) const;

  // Lists and reads. A tech sees only the jobs and visits assigned to them.
  Response list(const Request& req, const std::string& stream_type, const Roles& roles,
                const ListOptions& options);
  Response list_for(const Request& req, const commands::Actor& actor,
                    const std::string& stream_type, const ListOptions& options);
  // Any read table; `visible`: a tech's user id for per-user visibility.
  Response list_table(const Request& req, const commands::Actor& actor,
                      const projections::EntityTable& table, const ListOptions& options,
                      const std::string& visible = "");
  Response get(const Request& req, const std::string& stream_type, const Roles& roles);
  // The list of `child_type` entities whose `fk` is the parent named by the
  // path parameter `param` (404 when the caller cannot see that parent).
  Response list_under(const Request& req, const std::string& parent_type, const std::string& param,
                      const std::string& child_type, const std::string& fk,
                      const ListOptions& options);
  // The entity's current row, as the caller may see it ("null" if gone).
  std::string current_row(const std::string& stream_type, const commands::Actor& actor,
                          const std::string& id);

  // Generic commands on plain entities (fields + Created/Updated/Deleted).
  // `data` is the validated body; `references` are the entities the new one
  // relies on; `check` (optional) runs in a delete's transaction before it is
  // decided.
  using Check = std::function<std::optional<Error>(pqxx::work&, const commands::Actor&,
                                                   const std::string& id)>;
  Response create_entity(const Request& req, const commands::Actor& actor,
                         const std::string& stream_type, const std::string& aggregate,
                         nlohmann::json data, std::vector<commands::Reference> references = {});
  Response patch_entity(const Request& req, const std::string& stream_type,
                        const std::string& aggregate, const std::vector<domain::FieldSpec>& fields);
  Response delete_entity(const Request& req, const std::string& stream_type,
                         const std::string& aggregate, const Check& check = {});

  // Runs `cmd` and answers the entity's row afterwards (`status` on success).
  Response run_and_answer(const Request& req, const commands::Actor& actor,
                          commands::Command& cmd, int status);

  // Registers a route. A GET handler reads (and checks) its own query
  // parameters; every other method takes none, so any is a 400 before the
  // handler runs (and before an Idempotency-Key is claimed).
  void add(Router& router, Method method, const std::string& pattern, Handler handler);
  // Every POST honours Idempotency-Key.
  void add_post(Router& router, const std::string& pattern, Handler handler);

  void register_client_routes(Router& router);
  Response create_client(const Request& req);
  Response create_property(const Request& req);

  void register_user_routes(Router& router);
  Response create_user(const Request& req);
  Response patch_user(const Request& req);
  Response delete_user(const Request& req);

  void register_job_routes(Router& router);
  Response create_job(const Request& req);
  Response patch_job(const Request& req);
  Response delete_job(const Request& req);
  Response transition_job(const Request& req);

  Response create_visit(const Request& req);
  Response patch_visit(const Request& req);
  Response transition_visit(const Request& req);

  void register_audit_routes(Router& router);
  Response history(const Request& req, const std::string& stream_type);
  Response list_events(const Request& req);

  void register_money_routes(Router& router);
  Response create_estimate(const Request& req);
  Response convert_estimate(const Request& req);
  Response create_invoice(const Request& req);
  // PATCH and transitions of estimates and invoices ("estimate" | "invoice").
  Response patch_document(const Request& req, const std::string& stream_type);
  Response transition_document(const Request& req, const std::string& stream_type);
  Response create_payment(const Request& req);
  Response list_payments(const Request& req);
  Response delete_payment(const Request& req);
  std::string payment_row(const commands::Actor& actor, const std::string& id);

  events::PgPool& pool_;
  const Auth& auth_;
  commands::PasswordHasher& hasher_;
  Idempotency idempotency_;
  projections::TotalsCache totals_;
};

// Role sets of the contract's role table.
extern const Roles kAll;     // owner, admin, tech
extern const Roles kOffice;  // owner, admin
extern const Roles kOwner;

// In a command's transaction: share-locks the stream `id` and checks that it
// is a live entity of the actor's account; otherwise `error`. Used for every
// reference a command makes (a job's client), so the referenced entity cannot
// be deleted before the command commits.
std::optional<Error> require_entity(pqxx::work& tx, const commands::Actor& actor,
                                    const std::string& stream_type, const std::string& id,
                                    const Error& error);
// A 400 VALIDATION_ERROR naming the body field that references nothing.
Error bad_reference(const std::string& field, const std::string& what);
Response not_found(const Request& req);

}  // namespace fsm::http
