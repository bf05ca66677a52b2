#include "http/resources.h"

#include <charconv>

#include "common/uuid.h"
#include "domain/rules.h"

namespace fsm::http {
namespace {

const Roles kAll = {"owner", "admin", "tech"};
const Roles kOffice = {"owner", "admin"};
const Roles kOwner = {"owner"};

std::optional<int> parse_positive(const std::string& s, int max) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 1 || v > max) return std::nullopt;
  return v;
}

Response not_found(const Request& req) {
  return error_response(Error::of(ErrorCode::kNotFound, "not found"), req.request_id);
}

}  // namespace

Result<projections::ListQuery> parse_list_query(const Request& req,
                                                const std::set<std::string>& sortable,
                                                const std::set<std::string>& filters) {
  projections::ListQuery q;
  std::vector<Issue> issues;
  int page = 1;
  for (const auto& [key, value] : req.query) {
    if (key == "page") {
      auto v = parse_positive(value, 1000000);
      if (!v) issues.push_back({{"page"}, "must be an integer >= 1"});
      else page = *v;
    } else if (key == "limit") {
      auto v = parse_positive(value, 100);
      if (!v) issues.push_back({{"limit"}, "must be an integer from 1 to 100"});
      else q.limit = *v;
    } else if (key == "sort") {
      if (!sortable.count(value)) {
        std::string list;
        for (const auto& s : sortable) list += (list.empty() ? "" : ", ") + s;
        issues.push_back({{"sort"}, "must be one of: " + list});
      } else {
        q.sort = value;
      }
    } else if (key == "order") {
      if (value != "asc" && value != "desc") issues.push_back({{"order"}, "must be asc or desc"});
      else q.descending = value == "desc";
    } else if (filters.count(key)) {
      q.equals.emplace_back(key, value);
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

Resources::Resources(events::PgPool& pool, const Auth& auth) : pool_(pool), auth_(auth) {}

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

Response Resources::command_response(const Request& req, const Result<commands::Outcome>& outcome,
                                     const std::string& body, int success_status) const {
  if (!outcome) return error_response(outcome.error(), req.request_id);
  if (success_status == 204) return Response::no_content();
  return Response::json(success_status, nlohmann::json::parse(body));
}

Response Resources::list(const Request& req, const std::string& stream_type, const Roles& roles,
                         const std::set<std::string>& sortable,
                         const std::set<std::string>& filters) {
  auto who = caller(req, roles);
  if (auto* r = std::get_if<Response>(&who)) return *r;
  const auto& actor = std::get<commands::Actor>(who);
  auto q = parse_list_query(req, sortable, filters);
  if (!q) return error_response(q.error(), req.request_id);
  const auto& table = projections::entity_table(stream_type);
  auto page = pool_.run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    return projections::list_entities(tx, table, actor.account_id, *q);
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
  auto row = pool_.run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    return projections::read_entity(tx, projections::entity_table(stream_type), actor.account_id,
                                    id);
  });
  if (!row) return not_found(req);
  return Response::json(200, nlohmann::json::parse(*row));
}

Response Resources::create_entity(const Request& req, const commands::Actor& actor,
                                  const std::string& stream_type, const std::string& aggregate,
                                  nlohmann::json data, const Check& check) {
  std::string row;
  commands::Command cmd;
  cmd.stream_id = new_uuid();
  cmd.stream_type = stream_type;
  cmd.creates = true;
  data["account_id"] = actor.account_id;
  cmd.decide = [&](const domain::EntityState&, pqxx::work& tx) -> Result<domain::Events> {
    if (check) {
      if (auto err = check(tx, actor, cmd.stream_id)) return *err;
    }
    return domain::Events{{aggregate + "Created", data}};
  };
  cmd.after = [&](pqxx::work& tx, const auto&) {
    row = *projections::read_entity(tx, projections::entity_table(stream_type), actor.account_id,
                                    cmd.stream_id);
  };
  return command_response(req, commands::run(pool_, actor, cmd), row, 201);
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
  const auto& table = projections::entity_table(stream_type);
  std::string row;
  commands::Command cmd;
  cmd.stream_id = id;
  cmd.stream_type = stream_type;
  cmd.if_match = if_match;
  cmd.decide = [&](const domain::EntityState& s, pqxx::work&) -> Result<domain::Events> {
    return domain::update_events(aggregate, s, *patch);
  };
  cmd.after = [&](pqxx::work& tx, const auto&) {
    row = *projections::read_entity(tx, table, actor.account_id, id);
  };
  auto outcome = commands::run(pool_, actor, cmd);
  if (outcome && row.empty()) {  // a no-op patch commits nothing: read the row as it is
    row = pool_.run([&](pqxx::connection& conn) {
      pqxx::read_transaction tx(conn);
      return projections::read_entity(tx, table, actor.account_id, id).value_or("null");
    });
  }
  return command_response(req, outcome, row, 200);
}

Response Resources::delete_entity(const Request& req, const std::string& stream_type,
                                  const std::string& aggregate, const Check& check) {
  auto t = target(req, kOwner);
  if (auto* r = std::get_if<Response>(&t)) return *r;
  const auto& [actor, id, if_match] = std::get<Target>(t);
  commands::Command cmd;
  cmd.stream_id = id;
  cmd.stream_type = stream_type;
  cmd.if_match = if_match;
  cmd.decide = [&](const domain::EntityState& s, pqxx::work& tx) -> Result<domain::Events> {
    if (check) {
      if (auto err = check(tx, actor, id)) return *err;
    }
    return domain::Events{domain::deleted_event(aggregate, s)};
  };
  return command_response(req, commands::run(pool_, actor, cmd), "", 204);
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

// The client named in the path must be a live client of the caller's account.
bool client_exists(pqxx::transaction_base& tx, const std::string& account_id,
                   const std::string& client_id) {
  return projections::read_entity(tx, projections::entity_table("client"), account_id, client_id)
      .has_value();
}

}  // namespace

Response Resources::list_properties(const Request& req) {
  auto who = caller(req, kAll);
  if (auto* r = std::get_if<Response>(&who)) return *r;
  const std::string client_id = req.params.at("clientId");
  const auto& actor = std::get<commands::Actor>(who);
  const bool exists = is_uuid(client_id) && pool_.run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    return client_exists(tx, actor.account_id, client_id);
  });
  if (!exists) return not_found(req);
  if (req.query.count("client_id")) {  // the path names the client
    return error_response(Error::validation({{{"client_id"}, "unknown query parameter"}}),
                          req.request_id);
  }
  Request scoped = req;
  scoped.query.emplace("client_id", client_id);
  return list(scoped, "property", kAll, {"name", "address", "city", "created_at", "updated_at"},
              {"client_id"});
}

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
  return create_entity(
      req, std::get<commands::Actor>(who), "property", "Property", *fields,
      [client_id](pqxx::work& tx, const commands::Actor& actor,
                  const std::string&) -> std::optional<Error> {
        if (!client_exists(tx, actor.account_id, client_id)) {
          return Error::of(ErrorCode::kNotFound, "no such client");
        }
        return std::nullopt;
      });
}

void Resources::register_routes(Router& router) {
  const std::set<std::string> client_sorts = {"name", "created_at", "updated_at"};
  router.add(Method::kGet, "/api/v1/clients", [this, client_sorts](const Request& r) {
    return list(r, "client", kAll, client_sorts, {});
  });
  router.add(Method::kPost, "/api/v1/clients", [this](const Request& r) { return create_client(r); });
  router.add(Method::kGet, "/api/v1/clients/:id",
             [this](const Request& r) { return get(r, "client", kAll); });
  router.add(Method::kPatch, "/api/v1/clients/:id", [this](const Request& r) {
    return patch_entity(r, "client", "Client", domain::client_fields());
  });
  router.add(Method::kDelete, "/api/v1/clients/:id", [this](const Request& r) {
    return delete_entity(r, "client", "Client",
                         [](pqxx::work& tx, const commands::Actor& actor,
                            const std::string& id) -> std::optional<Error> {
                           // The client's stream row is locked by the command.
                           if (projections::is_referenced(tx, "jobs", "client_id",
                                                          actor.account_id, id)) {
                             return Error::of(ErrorCode::kConflict, "the client still has jobs");
                           }
                           return std::nullopt;
                         });
  });

  router.add(Method::kGet, "/api/v1/clients/:clientId/properties",
             [this](const Request& r) { return list_properties(r); });
  router.add(Method::kPost, "/api/v1/clients/:clientId/properties",
             [this](const Request& r) { return create_property(r); });
  router.add(Method::kGet, "/api/v1/properties/:id",
             [this](const Request& r) { return get(r, "property", kAll); });
  router.add(Method::kPatch, "/api/v1/properties/:id", [this](const Request& r) {
    return patch_entity(r, "property", "Property", domain::property_fields());
  });
  router.add(Method::kDelete, "/api/v1/properties/:id",
             [this](const Request& r) { return delete_entity(r, "property", "Property"); });
}

}  // namespace fsm::http
