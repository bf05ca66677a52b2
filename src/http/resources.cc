#include "http/resources.h"

#include <algorithm>
#include <charconv>

#include "common/uuid.h"
#include "domain/rules.h"
#include "common/time.h"
#include "events/pg_event_store.h"
#include "projections/replay.h"

namespace fsm::http {

const Roles kAll = {"owner", "admin", "tech"};
const Roles kOffice = {"owner", "admin"};
const Roles kOwner = {"owner"};

namespace {

std::optional<int> parse_positive(const std::string& s, int max) {
  auto v = parse_integer(s, 1, max);
  if (!v) return std::nullopt;
  return static_cast<int>(*v);
}

// Techs see only what is assigned to them; everyone else sees the account.
std::string visible_to(const commands::Actor& actor, const std::string& stream_type) {
  const bool scoped = stream_type == "job" || stream_type == "visit";
  return scoped && actor.role == "tech" ? actor.user_id : std::string();
}

}  // namespace

std::optional<long long> parse_integer(const std::string& s, long long min, long long max) {
  long long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < min || v > max) return std::nullopt;
  return v;
}

Response not_found(const Request& req) {
  return error_response(Error::of(ErrorCode::kNotFound, "not found"), req.request_id);
}

Error bad_reference(const std::string& field, const std::string& what) {
  return Error::validation({{{field}, "no such " + what + " in this account"}});
}

std::optional<Error> require_entity(pqxx::work& tx, const commands::Actor& actor,
                                    const std::string& stream_type, const std::string& id,
                                    const Error& error) {
  if (!projections::share_entity(tx, projections::entity_table(stream_type), actor.account_id, id)) {
    return error;
  }
  return std::nullopt;
}

Result<projections::ListQuery> parse_list_query(const Request& req, const ListOptions& options) {
  projections::ListQuery q;
  q.sort = options.default_sort;
  q.descending = options.default_descending;
  std::vector<Issue> issues;
  int page = 1;
  for (const auto& [key, value] : req.query) {
    auto filter = std::find_if(options.filters.begin(), options.filters.end(),
                               [&k = key](const Filter& f) { return f.spec.name == k; });
    if (key == "page") {
      auto v = parse_positive(value, 1000000);
      if (!v) issues.push_back({{"page"}, "must be an integer >= 1"});
      else page = *v;
    } else if (key == "limit") {
      auto v = parse_positive(value, 100);
      if (!v) issues.push_back({{"limit"}, "must be an integer from 1 to 100"});
      else q.limit = *v;
    } else if (key == "sort") {
      if (!options.sortable.count(value)) {
        std::string list;
        for (const auto& s : options.sortable) list += (list.empty() ? "" : ", ") + s;
        issues.push_back({{"sort"}, "must be one of: " + list});
      } else {
        q.sort = value;
      }
    } else if (key == "order") {
      if (value != "asc" && value != "desc") issues.push_back({{"order"}, "must be asc or desc"});
      else q.descending = value == "desc";
    } else if (filter != options.filters.end()) {
      // A filter value is checked exactly like a body field of its type.
      domain::FieldSpec spec = filter->spec;
      spec.nullable = false;
      auto checked = domain::validate_body({{key, value}}, {spec}, domain::Mode::kPatch);
      if (!checked) {
        for (const auto& issue : checked.error().issues) issues.push_back(issue);
      } else {
        q.where.push_back({filter->column.empty() ? key : filter->column, filter->op,
                           (*checked)[key].get<std::string>()});
      }
    } else {
      issues.push_back({{key}, "unknown query parameter"});
    }
  }
  if (!issues.empty()) return Error::validation(std::move(issues), "invalid query parameters");
  q.offset = (page - 1) * q.limit;
  return q;
}

Result<std::optional<int>> parse_if_match(const Request& req) {
  auto h = req.header("if-match");
  if (!h) return std::optional<int>{};
  std::string v = *h;
  if (v.rfind("W/", 0) == 0) v = v.substr(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  auto n = parse_positive(v, 1 << 30);
  if (!n) return Error::validation({{{"If-Match"}, "must be the entity's version number"}});
  return std::optional<int>{*n};
}

Resources::Resources(events::PgPool& pool, const Auth& auth, commands::PasswordHasher& hasher,
                     IdempotencyConfig idempotency)
    : pool_(pool), auth_(auth), hasher_(hasher), idempotency_(pool, auth, idempotency) {}

void Resources::add(Router& router, Method method, const std::string& pattern, Handler handler) {
  if (method == Method::kGet) {
    router.add(method, pattern, std::move(handler));
    return;
  }
  // A write route's request is its path and body: a query parameter would be
  // silently ignored (and is not part of an Idempotency-Key's fingerprint).
  router.add(method, pattern, refusing_query(std::move(handler)));
}

void Resources::add_post(Router& router, const std::string& pattern, Handler handler) {
  add(router, Method::kPost, pattern, idempotency_.wrap(std::move(handler)));
}

std::variant<commands::Actor, Response> Resources::caller(const Request& req,
                                                          const Roles& roles) const {
  auto actor = auth_.authenticate(req);
  if (!actor) return error_response(actor.error(), req.request_id);
  if (!roles.count(actor->role)) {
    return error_response(Error::of(ErrorCode::kForbidden, "your role may not do this"),
                          req.request_id);
  }
  return *actor;
}

std::variant<Resources::Target, Response> Resources::target(const Request& req,
                                                           const Roles& roles) const {
  auto who = caller(req, roles);
  if (auto* r = std::get_if<Response>(&who)) return *r;
  const std::string id = req.params.at("id");
  if (!is_uuid(id)) return not_found(req);
  auto if_match = parse_if_match(req);
  if (!if_match) return error_response(if_match.error(), req.request_id);
  return Target{std::get<commands::Actor>(who), id, *if_match};
}

std::string Resources::current_row(const std::string& stream_type, const commands::Actor& actor,
                                   const std::string& id) {
  return pool_.run([&](pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);  // one statement: no BEGIN/COMMIT round trips
    return projections::read_entity(tx, projections::entity_table(stream_type), actor.account_id,
                                    id, visible_to(actor, stream_type))
        .value_or("null");
  });
}

Response Resources::run_and_answer(const Request& req, const commands::Actor& actor,
                                   commands::Command& cmd, int status) {
  auto outcome = commands::run(pool_, actor, cmd);
  if (!outcome) return error_response(outcome.error(), req.request_id);
  if (status == 204) return Response::no_content();
  // The row as the command projected it; a no-op decision wrote none.
  std::string row = outcome->row;
  if (row.empty()) row = current_row(cmd.stream_type, actor, cmd.stream_id);
  return Response::json(status, nlohmann::json::parse(row));
}

Response Resources::list(const Request& req, const std::string& stream_type, const Roles& roles,
                         const ListOptions& options) {
  auto who = caller(req, roles);
  if (auto* r = std::get_if<Response>(&who)) return *r;
  return list_for(req, std::get<commands::Actor>(who), stream_type, options);
}

Response Resources::list_for(const Request& req, const commands::Actor& actor,
                             const std::string& stream_type, const ListOptions& options) {
  return list_table(req, actor, projections::entity_table(stream_type), options,
                    visible_to(actor, stream_type));
}

Response Resources::list_table(const Request& req, const commands::Actor& actor,
                               const projections::EntityTable& table, const ListOptions& options,
                               const std::string& visible) {
  auto q = parse_list_query(req, options);
  if (!q) return error_response(q.error(), req.request_id);
  q.value().visible_to = visible;
  auto page = pool_.run([&](pqxx::connection& conn) {
    // Each statement is its own snapshot; a page and its total come from one.
    pqxx::nontransaction tx(conn);
    return projections::list_entities(tx, table, actor.account_id, *q, &totals_);
  });
  // Rows arrive as JSON text from PostgreSQL and are spliced in unparsed.
  std::string data = "[";
  for (std::size_t i = 0; i < page.rows.size(); ++i) data += (i ? "," : "") + page.rows[i];
  data += "]";
  return Response::json(200, {{"data", nlohmann::json::parse(data)},
                              {"pagination",
                               {{"page", q->offset / q->limit + 1},
                                {"limit", q->limit},
                                {"total", page.total}}}});
}

Response Resources::get(const Request& req, const std::string& stream_type, const Roles& roles) {
  auto who = caller(req, roles);
  if (auto* r = std::get_if<Response>(&who)) return *r;
  const auto& actor = std::get<commands::Actor>(who);
  const std::string id = req.params.at("id");
  if (!is_uuid(id)) return not_found(req);
  for (const auto& [key, value] : req.query) {
    if (key != "as_of") {
      return error_response(Error::validation({{{key}, "unknown query parameter"}}),
                            req.request_id);
    }
  }
  if (auto as_of = req.query.find("as_of"); as_of != req.query.end()) {
    // The past is the auditor's: owner and admin.
    if (!kOffice.count(actor.role)) {
      return error_response(Error::of(ErrorCode::kForbidden, "your role may not do this"),
                            req.request_id);
    }
    // Checked like a body field (one message for every timestamp), then read
    // at full precision.
    auto checked =
        domain::validate_body({{"as_of", as_of->second}},
                              {{"as_of", domain::FieldType::kTimestamp}}, domain::Mode::kPatch);
    if (!checked) return error_response(checked.error(), req.request_id);
    const auto at = parse_rfc3339(as_of->second).value();  // valid: checked above
    auto then = projections::entity_as_of(pool_.conninfo(), stream_type, actor.account_id, id, at);
    if (!then) return not_found(req);
    return Response::json(200, nlohmann::json::parse(*then));
  }
  const std::string row = current_row(stream_type, actor, id);
  if (row == "null") return not_found(req);
  return Response::json(200, nlohmann::json::parse(row));
}

Response Resources::list_under(const Request& req, const std::string& parent_type,
                               const std::string& param, const std::string& child_type,
                               const std::string& fk, const ListOptions& options) {
  auto who = caller(req, kAll);
  if (auto* r = std::get_if<Response>(&who)) return *r;
  const auto& actor = std::get<commands::Actor>(who);
  const std::string parent_id = req.params.at(param);
  if (!is_uuid(parent_id) || current_row(parent_type, actor, parent_id) == "null") {
    return not_found(req);
  }
  if (req.query.count(fk)) {  // the path names the parent
    return error_response(Error::validation({{{fk}, "unknown query parameter"}}), req.request_id);
  }
  Request scoped = req;
  scoped.query.emplace(fk, parent_id);
  ListOptions with_parent = options;
  with_parent.filters.push_back({{fk, domain::FieldType::kUuid}});
  return list_for(scoped, actor, child_type, with_parent);
}

Response Resources::create_entity(const Request& req, const commands::Actor& actor,
                                  const std::string& stream_type, const std::string& aggregate,
                                  nlohmann::json data, std::vector<commands::Reference> references) {
  commands::Command cmd;
  cmd.stream_id = new_uuid();
  cmd.stream_type = stream_type;
  cmd.creates = true;
  data["account_id"] = actor.account_id;
  cmd.creation = domain::DomainEvent{aggregate + "Created", std::move(data)};
  cmd.references = std::move(references);
  return run_and_answer(req, actor, cmd, 201);
}

Response Resources::patch_entity(const Request& req, const std::string& stream_type,
                                 const std::string& aggregate,
                                 const std::vector<domain::FieldSpec>& fields) {
  auto t = target(req, kOffice);
  if (auto* r = std::get_if<Response>(&t)) return *r;
  const auto& [actor, id, if_match] = std::get<Target>(t);
  auto body = domain::parse_json_object(req.body);
  if (!body) return error_response(body.error(), req.request_id);
  std::vector<domain::FieldSpec> specs = fields;
  for (auto& s : specs) s.required = false;
  auto patch = domain::validate_body(*body, specs, domain::Mode::kPatch);
  if (!patch) return error_response(patch.error(), req.request_id);
  auto cmd = std::get<Target>(t).command(stream_type);
  cmd.decide = [&](const domain::EntityState& s, pqxx::work&) -> Result<domain::Events> {
    return domain::update_events(aggregate, s, *patch);
  };
  return run_and_answer(req, actor, cmd, 200);
}

Response Resources::delete_entity(const Request& req, const std::string& stream_type,
                                  const std::string& aggregate, const Check& check) {
  auto t = target(req, kOwner);
  if (auto* r = std::get_if<Response>(&t)) return *r;
  const auto& [actor, id, if_match] = std::get<Target>(t);
  auto cmd = std::get<Target>(t).command(stream_type);
  cmd.decide = [&](const domain::EntityState& s, pqxx::work& tx) -> Result<domain::Events> {
    if (check) {
      if (auto err = check(tx, actor, id)) return *err;
    }
    return domain::Events{domain::deleted_event(aggregate, s)};
  };
  return run_and_answer(req, actor, cmd, 204);
}

Response Resources::create_client(const Request& req) {
  auto who = caller(req, kOffice);
  if (auto* r = std::get_if<Response>(&who)) return *r;
  auto body = domain::parse_json_object(req.body);
  if (!body) return error_response(body.error(), req.request_id);
  auto fields = domain::validate_body(*body, domain::client_fields(), domain::Mode::kCreate);
  if (!fields) return error_response(fields.error(), req.request_id);
  return create_entity(req, std::get<commands::Actor>(who), "client", "Client", *fields);
}

namespace {

const ListOptions kPropertyList = {{"name", "address", "city", "created_at", "updated_at"}, {}};

Error still_referenced(const char* what) {
  return Error::of(ErrorCode::kConflict, std::string("it is still referenced by ") + what);
}

// A deleted client takes its properties with it: one PropertyDeleted each, in
// the client's command. Jobs must be gone first (checked by the caller).
void delete_properties_of(pqxx::work& tx, const commands::Actor& actor,
                          const std::string& client_id) {
  auto ids = tx.exec_params(
      "SELECT id::text FROM properties WHERE account_id = $1::uuid AND client_id = $2::uuid"
      " ORDER BY id",
      actor.account_id, client_id);
  for (const auto& r : ids) {
    const std::string id = r[0].c_str();
    events::PgEventStore::lock_stream(tx, id);
    const auto state = commands::load(tx, id);
    if (!state.live()) continue;
    if (!commands::append_and_project(tx, actor, id, "property", state.version,
                                      {domain::deleted_event("Property", state)})) {
      throw std::logic_error("a locked property stream moved");
    }
  }
}

}  // namespace

Response Resources::create_property(const Request& req) {
  auto who = caller(req, kOffice);
  if (auto* r = std::get_if<Response>(&who)) return *r;
  const std::string client_id = req.params.at("clientId");
  if (!is_uuid(client_id)) return not_found(req);
  auto body = domain::parse_json_object(req.body);
  if (!body) return error_response(body.error(), req.request_id);
  auto fields = domain::validate_body(*body, domain::property_fields(), domain::Mode::kCreate);
  if (!fields) return error_response(fields.error(), req.request_id);
  fields.value()["client_id"] = client_id;
  return create_entity(req, std::get<commands::Actor>(who), "property", "Property", *fields,
                       {{"client", client_id, Error::of(ErrorCode::kNotFound, "no such client")}});
}

void Resources::register_client_routes(Router& router) {
  const ListOptions clients = {{"name", "created_at", "updated_at"}, {}};
  add(router, Method::kGet, "/api/v1/clients",
      [this, clients](const Request& r) { return list(r, "client", kAll, clients); });
  add_post(router, "/api/v1/clients", [this](const Request& r) { return create_client(r); });
  add(router, Method::kGet, "/api/v1/clients/:id",
      [this](const Request& r) { return get(r, "client", kAll); });
  add(router, Method::kPatch, "/api/v1/clients/:id", [this](const Request& r) {
    return patch_entity(r, "client", "Client", domain::client_fields());
  });
  add(router, Method::kDelete, "/api/v1/clients/:id", [this](const Request& r) {
    return delete_entity(r, "client", "Client",
                         [](pqxx::work& tx, const commands::Actor& actor,
                            const std::string& id) -> std::optional<Error> {
                           // The client's stream is locked by the command, and
                           // a new job share-locks it: no job can appear now.
                           for (const char* table : {"jobs", "estimates", "invoices"}) {
                             if (projections::is_referenced(tx, table, "client_id",
                                                            actor.account_id, id)) {
                               return still_referenced(table);
                             }
                           }
                           delete_properties_of(tx, actor, id);
                           return std::nullopt;
                         });
  });

  add(router, Method::kGet, "/api/v1/clients/:clientId/properties", [this](const Request& r) {
    return list_under(r, "client", "clientId", "property", "client_id", kPropertyList);
  });
  add_post(router, "/api/v1/clients/:clientId/properties",
             [this](const Request& r) { return create_property(r); });
  add(router, Method::kGet, "/api/v1/properties/:id",
      [this](const Request& r) { return get(r, "property", kAll); });
  add(router, Method::kPatch, "/api/v1/properties/:id", [this](const Request& r) {
    return patch_entity(r, "property", "Property", domain::property_fields());
  });
  add(router, Method::kDelete, "/api/v1/properties/:id", [this](const Request& r) {
    return delete_entity(r, "property", "Property",
                         [](pqxx::work& tx, const commands::Actor& actor,
                            const std::string& id) -> std::optional<Error> {
                           if (projections::is_referenced(tx, "jobs", "property_id",
                                                          actor.account_id, id)) {
                             return still_referenced("jobs");
                           }
                           return std::nullopt;
                         });
  });
}

void Resources::register_routes(Router& router) {
  register_client_routes(router);
  register_user_routes(router);
  register_job_routes(router);
  register_money_routes(router);
  register_audit_routes(router);
}

}  // namespace fsm::http
