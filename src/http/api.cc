#include "http/api.h"

#include <algorithm>
#include <charconv>

#include "common/time.h"
#include "common/uuid.h"
#include "domain/job.h"
#include "domain/visit.h"
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

// Techs see only what is assigned to them (a visit, and the jobs that have
// one); everyone else sees the account. The command side's rule for a visit
// is domain::visit::visible_to.
std::string visible_to(const commands::Actor& actor, const std::string& stream_type) {
  const bool scoped = stream_type == domain::job::kKind.stream_type ||
                      stream_type == domain::visit::kKind.stream_type;
  return scoped && actor.role == "tech" ? actor.user_id : std::string();
}

Error forbidden() {
  return Error::of(ErrorCode::kForbidden, "your role may not do this");
}

Error unknown_parameter(const std::string& name) {
  return Error::validation({{{name}, "unknown query parameter"}});
}

}  // namespace

std::optional<long long> parse_integer(const std::string& s, long long min, long long max) {
  long long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < min || v > max) return std::nullopt;
  return v;
}

Error not_found() {
  return Error::of(ErrorCode::kNotFound, "not found");
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
      if (!v)
        issues.push_back({{"page"}, "must be an integer >= 1"});
      else
        page = *v;
    } else if (key == "limit") {
      auto v = parse_positive(value, 100);
      if (!v)
        issues.push_back({{"limit"}, "must be an integer from 1 to 100"});
      else
        q.limit = *v;
    } else if (key == "sort") {
      if (!options.sortable.count(value)) {
        std::string list;
        for (const auto& s : options.sortable) list += (list.empty() ? "" : ", ") + s;
        issues.push_back({{"sort"}, "must be one of: " + list});
      } else {
        q.sort = value;
      }
    } else if (key == "order") {
      if (value != "asc" && value != "desc")
        issues.push_back({{"order"}, "must be asc or desc"});
      else
        q.descending = value == "desc";
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

// ------------------------------------------------------------------ Call

Result<std::string> Call::id(const char* name) const {
  const std::string value = req.params.at(name);
  if (!is_uuid(value)) return not_found();
  return value;
}

Result<commands::Target> Call::target() const {
  auto entity = id();
  if (!entity) return entity.error();
  auto if_match = parse_if_match(req);
  if (!if_match) return if_match.error();
  return commands::Target{*entity, *if_match};
}

Result<nlohmann::json> Call::body(const std::vector<domain::FieldSpec>& specs,
                                  domain::Mode mode) const {
  auto parsed = domain::parse_json_object(req.body);
  if (!parsed) return parsed.error();
  return domain::validate_body(*parsed, specs, mode);
}

// ------------------------------------------------------------------- Api

Api::Api(events::PgPool& pool, const Auth& auth, commands::PasswordHasher& hasher,
         IdempotencyConfig idempotency)
    : pool_(pool), auth_(auth), hasher_(hasher), idempotency_(pool, idempotency) {}

void Api::register_routes(Router& router) {
  router_ = &router;
  for (auto* routes : {client_routes, property_routes, job_routes, visit_routes, user_routes,
                       estimate_routes, invoice_routes, automation_routes, audit_routes}) {
    routes(*this);
  }
  router_ = nullptr;
}

void Api::route(Method method, const std::string& pattern, const Roles& roles,
                CallHandler handler) {
  Handler h = [this, method, roles,
               handler = std::move(handler)](const Request& req) -> Result<Response> {
    // A malformed Idempotency-Key is refused before anything else runs.
    if (method == Method::kPost) {
      if (auto key = idempotency_key_of(req); !key) return key.error();
    }
    // Authenticated once, here, for the handler and the Idempotency-Key.
    auto actor = auth_.authenticate(req);
    if (!actor) return actor.error();
    if (!roles.count(actor->role)) return forbidden();
    // The Idempotency-Key records the answer, so it sees the error's body too.
    auto run = [&](const Request& r) {
      Call call{r, *actor, pool_};
      if (!r.idempotency_claim.empty()) {
        call.actor.idempotency = commands::IdempotencyClaim{r.idempotency_key, r.idempotency_claim};
      }
      auto res = handler(call);
      return to_response(std::move(res), r.request_id);
    };
    if (method == Method::kPost) return idempotency_.handle(req, actor->user_id, run);
    return run(req);
  };
  // A write route's request is its path and body: a query parameter would be
  // silently ignored (and is not part of an Idempotency-Key's fingerprint).
  router_->add(method, pattern,
               method == Method::kGet ? std::move(h) : refusing_query(std::move(h)));
}

void Api::get(const std::string& p, const Roles& r, CallHandler h) {
  route(Method::kGet, p, r, std::move(h));
}
void Api::post(const std::string& p, const Roles& r, CallHandler h) {
  route(Method::kPost, p, r, std::move(h));
}
void Api::patch(const std::string& p, const Roles& r, CallHandler h) {
  route(Method::kPatch, p, r, std::move(h));
}
void Api::del(const std::string& p, const Roles& r, CallHandler h) {
  route(Method::kDelete, p, r, std::move(h));
}

std::string Api::current_row(const Call& call, const std::string& stream_type,
                             const std::string& id) {
  return pool_.run([&](pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);  // one statement: no BEGIN/COMMIT round trips
    return projections::read_entity(tx, projections::entity_table(stream_type),
                                    call.actor.account_id, id, visible_to(call.actor, stream_type))
        .value_or("null");
  });
}

Result<Response> Api::answer(const Call& call, const Result<commands::Outcome>& outcome,
                             const std::string& stream_type, int status) {
  if (!outcome) return outcome.error();
  if (status == 204) return Response::no_content();
  // The row as the command projected it; a no-op decision wrote none.
  std::string row = outcome->row;
  if (row.empty())
    row = current_row(call, stream_type,
                      call.req.params.count("id") ? call.req.params.at("id") : std::string());
  return Response::json_text(status, std::move(row));
}

Result<Response> Api::list(const Call& call, const std::string& stream_type,
                           const ListOptions& options) {
  return list_table(call, call.req, projections::entity_table(stream_type), options,
                    visible_to(call.actor, stream_type));
}

Result<Response> Api::list_table(const Call& call, const Request& req,
                                 const projections::EntityTable& table, const ListOptions& options,
                                 const std::string& visible) {
  auto q = parse_list_query(req, options);
  if (!q) return q.error();
  q.value().visible_to = visible;
  auto page = pool_.run([&](pqxx::connection& conn) {
    // Each statement is its own snapshot; a page and its total come from one.
    pqxx::nontransaction tx(conn);
    return projections::list_entities(tx, table, call.actor.account_id, *q, &totals_);
  });
  // Rows arrive as JSON text from PostgreSQL and are spliced in unparsed.
  std::size_t size = 96;
  for (const auto& row : page.rows) size += row.size() + 1;
  std::string body;
  body.reserve(size);
  body += "{\"data\":[";
  for (std::size_t i = 0; i < page.rows.size(); ++i) {
    if (i) body += ',';
    body += page.rows[i];
  }
  body += "],\"pagination\":{\"page\":" + std::to_string(q->offset / q->limit + 1) +
          ",\"limit\":" + std::to_string(q->limit) + ",\"total\":" + std::to_string(page.total) +
          "}}";
  return Response::json_text(200, std::move(body));
}

Result<Response> Api::read(const Call& call, const std::string& stream_type) {
  auto id = call.id();
  if (!id) return id.error();
  for (const auto& [key, value] : call.req.query) {
    if (key != "as_of") return unknown_parameter(key);
  }
  if (auto as_of = call.req.query.find("as_of"); as_of != call.req.query.end()) {
    // The past is the auditor's: owner and admin.
    if (!kOffice.count(call.actor.role)) return forbidden();
    // Checked like a body field (one message for every timestamp), then read
    // at full precision.
    auto checked =
        domain::validate_body({{"as_of", as_of->second}},
                              {{"as_of", domain::FieldType::kTimestamp}}, domain::Mode::kPatch);
    if (!checked) return checked.error();
    const auto at = parse_rfc3339(as_of->second).value();  // valid: checked above
    auto then =
        projections::entity_as_of(pool_.conninfo(), stream_type, call.actor.account_id, *id, at);
    if (!then) return not_found();
    return Response::json_text(200, std::move(*then));
  }
  std::string row = current_row(call, stream_type, *id);
  if (row == "null") return not_found();
  return Response::json_text(200, std::move(row));
}

Result<Response> Api::list_under(const Call& call, const std::string& parent_type,
                                 const char* param, const std::string& child_type,
                                 const std::string& fk, const ListOptions& options) {
  auto parent_id = call.id(param);
  if (!parent_id) return parent_id.error();
  if (current_row(call, parent_type, *parent_id) == "null") return not_found();
  if (call.req.query.count(fk)) return unknown_parameter(fk);  // the path names the parent
  Request scoped = call.req;
  scoped.query.emplace(fk, *parent_id);
  ListOptions with_parent = options;
  with_parent.filters.push_back({{fk, domain::FieldType::kUuid}});
  return list_table(call, scoped, projections::entity_table(child_type), with_parent,
                    visible_to(call.actor, child_type));
}

}  // namespace fsm::http
