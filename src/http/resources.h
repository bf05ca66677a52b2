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
#include "domain/validation.h"
#include "events/pg_pool.h"
#include "http/auth.h"
#include "http/router.h"
#include "projections/entity_reads.h"

namespace fsm::http {

using Roles = std::set<std::string>;

// Shared request plumbing, exposed for the resource implementations and tests.
Result<projections::ListQuery> parse_list_query(const Request& req,
                                                const std::set<std::string>& sortable,
                                                const std::set<std::string>& filters);
Result<std::optional<int>> parse_if_match(const Request& req);

class Resources {
 public:
  Resources(events::PgPool& pool, const Auth& auth);
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
  };
  std::variant<Target, Response> target(const Request& req, const Roles& roles) const;
  Response command_response(const Request& req, const Result<commands::Outcome>& outcome,
                            const std::string& body, int success_status) const;

  Response list(const Request& req, const std::string& stream_type, const Roles& roles,
                const std::set<std::string>& sortable, const std::set<std::string>& filters);
  Response get(const Request& req, const std::string& stream_type, const Roles& roles);

  // Generic commands on plain entities (fields + Created/Updated/Deleted).
  // `data` is the validated body; `check` (optional) runs in the command's
  // transaction before the events are decided (references, preconditions).
  using Check = std::function<std::optional<Error>(pqxx::work&, const commands::Actor&,
                                                   const std::string& id)>;
  Response create_entity(const Request& req, const commands::Actor& actor,
                         const std::string& stream_type, const std::string& aggregate,
                         nlohmann::json data, const Check& check = {});
  Response patch_entity(const Request& req, const std::string& stream_type,
                        const std::string& aggregate, const std::vector<domain::FieldSpec>& fields);
  Response delete_entity(const Request& req, const std::string& stream_type,
                         const std::string& aggregate, const Check& check = {});

  Response create_client(const Request& req);
  Response list_properties(const Request& req);
  Response create_property(const Request& req);

  events::PgPool& pool_;
  const Auth& auth_;
};

}  // namespace fsm::http
