#include "http/auth.h"

#include <sodium.h>

#include "common/env.h"
#include "common/log.h"
#include "common/uuid.h"
#include "domain/validation.h"
#include "events/pg_auth_store.h"
#include "http/request_checks.h"

namespace fsm::http {
namespace {

std::string new_token() {
  unsigned char raw[32];  // 256 bits
  randombytes_buf(raw, sizeof raw);
  char out[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(out, sizeof out, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return out;
}

bool plausible_token(const std::string& t) {
  if (t.empty() || t.size() > 128) return false;
  for (unsigned char c : t) {
    if (!(std::isalnum(c) || c == '-' || c == '_')) return false;
  }
  return true;
}

nlohmann::json user_json(const std::string& id, const std::string& email,
                         const std::string& full_name, const std::string& role,
                         const std::string& account_id) {
  return {{"id", id}, {"email", email}, {"full_name", full_name}, {"role", role},
          {"account_id", account_id}};
}

}  // namespace

std::optional<events::SessionUser> SessionCache::find(const std::string& token_hash) {
  if (ttl_.count() == 0) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = entries_.find(token_hash);
  if (it == entries_.end()) return std::nullopt;
  if (std::chrono::steady_clock::now() >= it->second.until || now() >= it->second.user.expires_at) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.user;
}

std::uint64_t SessionCache::generation() {
  std::lock_guard lock(mu_);
  return generation_;
}

void SessionCache::store(const std::string& token_hash, const events::SessionUser& user,
                         std::uint64_t generation_before_lookup) {
  if (ttl_.count() == 0) return;
  std::lock_guard lock(mu_);
  if (generation_ != generation_before_lookup) return;  // an invalidation ran meanwhile
  if (entries_.size() >= kMaxEntries) entries_.clear();
  entries_[token_hash] = {user, std::chrono::steady_clock::now() + ttl_};
}

void SessionCache::forget_token(const std::string& token_hash) {
  std::lock_guard lock(mu_);
  ++generation_;
  entries_.erase(token_hash);
}

void SessionCache::forget_user(const std::string& user_id) {
  std::lock_guard lock(mu_);
  ++generation_;
  std::erase_if(entries_, [&](const auto& e) { return e.second.user.user_id == user_id; });
}

AuthConfig AuthConfig::from_env() {
  AuthConfig c;
  c.session_ttl = std::chrono::seconds(
      env::get_int("FSM_SESSION_TTL_SECONDS", c.session_ttl.count(), 60, 365LL * 24 * 3600));
  c.session_cache =
      std::chrono::seconds(env::get_int("FSM_SESSION_CACHE_SECONDS", c.session_cache.count(), 0, 60));
  c.cookie_secure = env::get_bool("FSM_COOKIE_SECURE", false);
  c.max_per_ip_email = static_cast<int>(env::get_int("FSM_LOGIN_MAX_PER_IP_EMAIL", 5, 1, 100000));
  c.max_per_ip = static_cast<int>(env::get_int("FSM_LOGIN_MAX_PER_IP", 50, 1, 1000000));
  c.window = std::chrono::seconds(env::get_int("FSM_LOGIN_WINDOW_SECONDS", 900, 1, 86400));
  c.trust_proxy = env::get_bool("FSM_TRUST_PROXY", false);
  try {
    c.allowed_origins = parse_allowed_origins(env::get_string("FSM_ALLOWED_ORIGINS", ""));
  } catch (const std::invalid_argument& e) {
    throw env::ConfigError(std::string("FSM_ALLOWED_ORIGINS: ") + e.what());
  }
  return c;
}

std::optional<long> LoginRateLimiter::over(std::deque<std::chrono::steady_clock::time_point>& hits,
                                           int limit, std::chrono::steady_clock::time_point now) {
  while (!hits.empty() && now - hits.front() >= config_.window) hits.pop_front();
  if (static_cast<int>(hits.size()) < limit) return std::nullopt;
  const auto wait = config_.window - (now - hits.front());
  return std::max<long>(1, static_cast<long>(
                               std::chrono::ceil<std::chrono::seconds>(wait).count()));
}

std::optional<long> LoginRateLimiter::attempt(const std::string& ip, const std::string& email,
                                              std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mu_);
  if (by_key_.size() > 100000) {  // bound memory: forget keys whose window has passed
    for (auto it = by_key_.begin(); it != by_key_.end();) {
      it = (it->second.empty() || now - it->second.back() >= config_.window) ? by_key_.erase(it)
                                                                              : std::next(it);
    }
  }
  auto& per_ip = by_key_["ip:" + ip];
  auto& per_pair = by_key_["pair:" + ip + "\n" + email];
  auto wait_ip = over(per_ip, config_.max_per_ip, now);
  auto wait_pair = over(per_pair, config_.max_per_ip_email, now);
  if (wait_ip || wait_pair) return std::max(wait_ip.value_or(0), wait_pair.value_or(0));
  per_ip.push_back(now);
  per_pair.push_back(now);
  return std::nullopt;
}

Auth::Auth(events::PgPool& pool, commands::PasswordHasher& hasher, AuthConfig config)
    : pool_(pool),
      hasher_(hasher),
      config_(config),
      limiter_(config_),
      cache_(config_.session_cache) {}

std::optional<SessionToken> session_token(const Request& req) {
  if (auto h = req.header("authorization")) {
    if (h->rfind("Bearer ", 0) == 0) return SessionToken{h->substr(7), false};
  }
  if (auto cookies = req.header("cookie")) {
    std::string_view all(*cookies);
    std::size_t pos = 0;
    while (pos < all.size()) {
      auto end = all.find(';', pos);
      if (end == std::string_view::npos) end = all.size();
      auto part = all.substr(pos, end - pos);
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      if (part.rfind("fsm_session=", 0) == 0) {
        return SessionToken{std::string(part.substr(12)), true};
      }
      pos = end + 1;
    }
  }
  return std::nullopt;
}

std::string Auth::client_ip(const Request& req) const {
  if (config_.trust_proxy) {
    if (auto xff = req.header("x-forwarded-for")) {
      // The proxy appends the address it saw: the last entry is the one it vouches for.
      auto last = xff->substr(xff->rfind(',') == std::string::npos ? 0 : xff->rfind(',') + 1);
      while (!last.empty() && last.front() == ' ') last.erase(0, 1);
      if (!last.empty()) return last;
    }
  }
  return req.peer_ip;
}

Result<Auth::Session> Auth::session(const Request& req) const {
  auto token = session_token(req);
  if (!token || !plausible_token(token->value)) {
    return Error::of(ErrorCode::kUnauthorized, "authentication required");
  }
  if (token->from_cookie) {
    if (auto refused = check_cookie_origin(req, config_.allowed_origins)) {
      log::warn("cross-site cookie request refused",
                {{"method", method_name(req.method)},
                 {"path", req.path},
                 {"origin", req.header("origin").value_or("").substr(0, 200)},
                 {"sec_fetch_site", req.header("sec-fetch-site").value_or("").substr(0, 40)}},
                req.request_id);
      return *refused;
    }
  }
  Session s{sha256_hex(token->value), {}};
  if (auto cached = cache_.find(s.token_hash)) {
    s.user = std::move(*cached);
    return s;
  }
  const auto generation = cache_.generation();
  auto user = pool_.run([&](pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);
    return events::PgAuthStore::find_session(tx, s.token_hash);
  });
  if (!user) return Error::of(ErrorCode::kUnauthorized, "session expired or revoked");
  cache_.store(s.token_hash, *user, generation);
  s.user = std::move(*user);
  return s;
}

Result<commands::Actor> Auth::authenticate(const Request& req) const {
  auto s = session(req);
  if (!s) return s.error();
  commands::Actor actor{s->user.account_id, s->user.user_id, s->user.role, req.request_id};
  logged_caller() = {actor.account_id, actor.user_id};
  return actor;
}

Response Auth::login(const Request& req) {
  static const std::vector<domain::FieldSpec> specs = {
      {"email", domain::FieldType::kEmail, true, false, 254},
      {"password", domain::FieldType::kText, true, false, 1024}};
  auto body = domain::parse_json_object(req.body);
  if (!body) return error_response(body.error(), req.request_id);
  // The password is checked raw (no trimming): validate a copy for shape only.
  auto fields = domain::validate_body(*body, specs, domain::Mode::kCreate);
  if (!fields) return error_response(fields.error(), req.request_id);
  const std::string email = (*fields)["email"];
  const std::string password = (*body)["password"];
  const std::string ip = client_ip(req);

  if (auto wait = limiter_.attempt(ip, email, std::chrono::steady_clock::now())) {
    log::warn("Login rate limited", {{"ip", ip}}, req.request_id);
    auto res = error_response(
        Error::of(ErrorCode::kRateLimited, "too many login attempts; try again later"),
        req.request_id);
    res.headers.emplace_back("Retry-After", std::to_string(*wait));
    return res;
  }

  const auto candidates = pool_.run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    return events::PgAuthStore::find_login(tx, email);
  });
  const events::LoginCandidate* match = nullptr;
  for (const auto& c : candidates) {
    if (hasher_.verify(c.password_hash, password)) {
      match = &c;
      break;
    }
  }
  if (candidates.empty()) hasher_.verify_dummy(password);  // same cost as a real check
  if (!match) {
    log::warn("Login failed", {{"ip", ip}}, req.request_id);
    return error_response(
        Error::of(ErrorCode::kInvalidCredentials, "invalid email or password"), req.request_id);
  }

  const std::string token = new_token();
  pool_.run([&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    events::PgAuthStore::create_session(tx, sha256_hex(token), match->user_id, match->account_id,
                                        now() + config_.session_ttl);
    tx.commit();
    return 0;
  });
  log::info("Login succeeded", {{"user_id", match->user_id}, {"ip", ip}}, req.request_id);
  auto res = Response::json(
      200, {{"token", token},
            {"user", user_json(match->user_id, match->email, match->full_name, match->role,
                               match->account_id)}});
  res.headers.emplace_back(
      "Set-Cookie", "fsm_session=" + token + "; Path=/; HttpOnly; SameSite=Lax; Max-Age=" +
                        std::to_string(config_.session_ttl.count()) +
                        (config_.cookie_secure ? "; Secure" : ""));
  return res;
}

Response Auth::logout(const Request& req) {
  auto s = session(req);
  if (!s) return error_response(s.error(), req.request_id);
  pool_.run([&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    events::PgAuthStore::revoke_session(tx, s->token_hash);
    tx.commit();
    return 0;
  });
  cache_.forget_token(s->token_hash);
  auto res = Response::json(200, {{"message", "ok"}});
  res.headers.emplace_back("Set-Cookie",
                           std::string("fsm_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0") +
                               (config_.cookie_secure ? "; Secure" : ""));
  return res;
}

Response Auth::me(const Request& req) {
  auto s = session(req);
  if (!s) return error_response(s.error(), req.request_id);
  const auto& u = s->user;
  return Response::json(200, user_json(u.user_id, u.email, u.full_name, u.role, u.account_id));
}

void Auth::register_routes(Router& router) {
  // Argon2id: on the slow lane, so a burst of logins never holds every worker.
  router.add(Method::kPost, "/api/v1/auth/login",
             refusing_query([this](const Request& r) { return login(r); }), Lane::kSlow);
  router.add(Method::kPost, "/api/v1/auth/logout",
             refusing_query([this](const Request& r) { return logout(r); }));
  router.add(Method::kGet, "/api/v1/auth/me",
             refusing_query([this](const Request& r) { return me(r); }));
}

}  // namespace fsm::http
