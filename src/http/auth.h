// Authentication: login (Argon2id), opaque session tokens (256-bit, stored only
// as SHA-256), Bearer or the fsm_session cookie, logout, and login rate limits.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "commands/command_runner.h"
#include "commands/passwords.h"
#include "events/pg_auth_store.h"
#include "events/pg_pool.h"
#include "http/router.h"

namespace fsm::http {

struct AuthConfig {
  std::chrono::seconds session_ttl{7 * 24 * 3600};
  // How long a looked-up session may be reused without asking the database
  // (FSM_SESSION_CACHE_SECONDS; 0: never). Changes made through this process
  // (logout, a new password, a user's new role, a removed user) apply at once.
  std::chrono::seconds session_cache{5};
  bool cookie_secure = false;
  int max_per_ip_email = 5;
  int max_per_ip = 50;
  std::chrono::seconds window{15 * 60};
  bool trust_proxy = false;  // read the client IP from X-Forwarded-For
  // Origins whose pages may send cookie-authenticated POST/PATCH/PUT/DELETE
  // (FSM_ALLOWED_ORIGINS); see check_cookie_origin in http/request_checks.h.
  std::vector<std::string> allowed_origins;

  static AuthConfig from_env();
};

// In-process sliding-window counters (a restart clears them, as documented).
class LoginRateLimiter {
 public:
  explicit LoginRateLimiter(const AuthConfig& config) : config_(config) {}
  // Records an attempt; returns the seconds to wait when it is over a limit.
  std::optional<long> attempt(const std::string& ip, const std::string& email,
                              std::chrono::steady_clock::time_point now);

 private:
  std::optional<long> over(std::deque<std::chrono::steady_clock::time_point>& hits, int limit,
                           std::chrono::steady_clock::time_point now);
  const AuthConfig& config_;
  std::mutex mu_;
  std::map<std::string, std::deque<std::chrono::steady_clock::time_point>> by_key_;
};

// Sessions recently found valid, keyed by token hash. An entry lives for the
// cache TTL and never past its session's expiry. A lookup that raced with an
// invalidation is not stored (generation check), so a revoked session cannot
// be put back by a request that read it just before.
class SessionCache {
 public:
  explicit SessionCache(std::chrono::seconds ttl) : ttl_(ttl) {}
  std::optional<events::SessionUser> find(const std::string& token_hash);
  std::uint64_t generation();
  void store(const std::string& token_hash, const events::SessionUser& user,
             std::uint64_t generation_before_lookup);
  void forget_token(const std::string& token_hash);
  void forget_user(const std::string& user_id);

 private:
  struct Entry {
    events::SessionUser user;
    std::chrono::steady_clock::time_point until;
  };
  static constexpr std::size_t kMaxEntries = 10000;
  const std::chrono::seconds ttl_;
  std::mutex mu_;
  std::uint64_t generation_ = 0;
  std::map<std::string, Entry> entries_;
};

class Auth {
 public:
  Auth(events::PgPool& pool, commands::PasswordHasher& hasher, AuthConfig config);

  void register_routes(Router& router);

  // The caller behind the request's token, or UNAUTHORIZED.
  Result<commands::Actor> authenticate(const Request& req) const;

  std::string client_ip(const Request& req) const;

  // A user's sessions must be looked up again (their role, name or password
  // changed, or they were removed). Call after the change committed.
  void forget_user(const std::string& user_id) const { cache_.forget_user(user_id); }

 private:
  // The request's valid session (its token's hash and user), or UNAUTHORIZED.
  struct Session {
    std::string token_hash;
    events::SessionUser user;
  };
  Result<Session> session(const Request& req) const;

  Response login(const Request& req);
  Response logout(const Request& req);
  Response me(const Request& req);

  events::PgPool& pool_;
  commands::PasswordHasher& hasher_;
  AuthConfig config_;
  LoginRateLimiter limiter_;
  mutable SessionCache cache_;
};

// The session token the request carries (Bearer first, then the cookie), and
// whether it came from the cookie (which a browser attaches by itself, so
// unsafe methods also need an allowed Origin).
struct SessionToken {
  std::string value;
  bool from_cookie = false;
};
std::optional<SessionToken> session_token(const Request& req);

}  // namespace fsm::http
