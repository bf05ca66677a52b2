// The resource API's shared plumbing: routes that authenticate once and
// check the caller's role, bodies and query parameters parsed strictly, and
// the query side (an entity, a page of a list, as it was at a moment). One
// small handler file per resource (src/http/handlers/) registers its routes
// here; a handler parses its request, calls the command layer
// (commands/services.h) or a read, and returns Result<Response>: an Error
// becomes the contract's error body in one place.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "commands/services.h"
#include "domain/validation.h"
#include "events/pg_pool.h"
#include "http/auth.h"
#include "http/idempotency.h"
#include "http/router.h"
#include "projections/entity_reads.h"

// Abseil's ASSIGN_OR_RETURN for Result: `FSM_TRY(auto x, expr);` declares
// `x` from the value of `expr`, or returns its error.
#define FSM_TRY_CONCAT_(a, b) a##b
#define FSM_TRY_NAME_(line) FSM_TRY_CONCAT_(fsm_try_, line)
#define FSM_TRY(decl, expr)                                             \
  auto FSM_TRY_NAME_(__LINE__) = (expr);                                \
  if (!FSM_TRY_NAME_(__LINE__)) return FSM_TRY_NAME_(__LINE__).error(); \
  decl = std::move(FSM_TRY_NAME_(__LINE__)).value()

namespace fsm::http {

using Roles = std::set<std::string>;
extern const Roles kAll;     // owner, admin, tech
extern const Roles kOffice;  // owner, admin
extern const Roles kOwner;

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

Result<projections::ListQuery> parse_list_query(const Request& req, const ListOptions& options);
Result<std::optional<int>> parse_if_match(const Request& req);
// A decimal integer within [min, max], nothing else (no sign games, no spaces).
std::optional<long long> parse_integer(const std::string& text, long long min, long long max);
Error not_found();

// An authenticated request whose caller has one of the route's roles.
struct Call {
  const Request& req;
  commands::Actor actor;
  events::PgPool& pool;

  commands::Context ctx() const { return {pool, actor}; }
  // The path parameter `name` as an entity id: a UUID, else NOT_FOUND.
  Result<std::string> id(const char* name = "id") const;
  // The entity named by `:id`, with If-Match.
  Result<commands::Target> target() const;
  // The body, strictly validated against `specs`.
  Result<nlohmann::json> body(const std::vector<domain::FieldSpec>& specs, domain::Mode mode) const;
};

using CallHandler = std::function<Result<Response>(const Call&)>;

class Api {
 public:
  Api(events::PgPool& pool, const Auth& auth, commands::PasswordHasher& hasher,
      IdempotencyConfig idempotency = {});
  void register_routes(Router& router);

  // Routes. A GET handler reads (and checks) its own query parameters; every
  // other method takes none (any is a 400 before the handler runs). Every
  // POST honours Idempotency-Key.
  void get(const std::string& pattern, const Roles& roles, CallHandler handler);
  void post(const std::string& pattern, const Roles& roles, CallHandler handler);
  void patch(const std::string& pattern, const Roles& roles, CallHandler handler);
  void del(const std::string& pattern, const Roles& roles, CallHandler handler);

  // ---- reads. A tech sees only the jobs and visits assigned to them.
  Result<Response> list(const Call& call, const std::string& stream_type,
                        const ListOptions& options);
  // Any read table; `visible`: a tech's user id for per-user visibility.
  Result<Response> list_table(const Call& call, const Request& req,
                              const projections::EntityTable& table, const ListOptions& options,
                              const std::string& visible = "");
  // The entity `:id` now, or `?as_of=` then.
  Result<Response> read(const Call& call, const std::string& stream_type);
  // The `child_type` entities whose `fk` is the parent named by the path
  // parameter `param` (404 when the caller cannot see that parent).
  Result<Response> list_under(const Call& call, const std::string& parent_type, const char* param,
                              const std::string& child_type, const std::string& fk,
                              const ListOptions& options);
  // The entity's current row as the caller may see it ("null" if gone).
  std::string current_row(const Call& call, const std::string& stream_type, const std::string& id);
  // A command's answer: its entity's row (as projected, or read if the
  // decision changed nothing) with `status`, or 204.
  Result<Response> answer(const Call& call, const Result<commands::Outcome>& outcome,
                          const std::string& stream_type, int status);

  const Auth& auth() const { return auth_; }
  commands::PasswordHasher& hasher() { return hasher_; }

 private:
  void route(Method method, const std::string& pattern, const Roles& roles, CallHandler handler);

  events::PgPool& pool_;
  const Auth& auth_;
  commands::PasswordHasher& hasher_;
  Idempotency idempotency_;
  projections::TotalsCache totals_;
  Router* router_ = nullptr;  // while registering
};

// One per resource, in src/http/handlers/.
void client_routes(Api& api);
void property_routes(Api& api);
void job_routes(Api& api);
void visit_routes(Api& api);
void user_routes(Api& api);
void estimate_routes(Api& api);
void invoice_routes(Api& api);
void automation_routes(Api& api);
void audit_routes(Api& api);

}  // namespace fsm::http
