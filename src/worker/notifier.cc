#include "worker/notifier.h"

#include <curl/curl.h>

#include <mutex>
#include <stdexcept>
#include <utility>

#include "common/env.h"
#include "common/log.h"

namespace fsm::worker {
namespace {

namespace notification = domain::notification;

std::string text(const nlohmann::json& data, const char* key) {
  const auto it = data.find(key);
  return it != data.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void log_notification(const Notification& n) {
  log::info("notification", {{"kind", n.kind},
                             {"event_id", n.event_id},
                             {"entity_id", n.entity_id()},
                             {"message", n.message()},
                             {"attempt", n.attempt}});
}

// libcurl's global state is set up once, before the first transfer; its
// init is not safe to run from two threads at once.
void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw std::runtime_error("libcurl failed to initialise");
    }
  });
}

using Url = std::unique_ptr<CURLU, decltype(&curl_url_cleanup)>;

// `url` parsed; nullptr when libcurl cannot parse it.
Url parse(const std::string& url) {
  Url u(curl_url(), curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return Url(nullptr, curl_url_cleanup);
  }
  return u;
}

std::string part(CURLU* u, CURLUPart which) {
  char* out = nullptr;
  if (curl_url_get(u, which, &out, 0) != CURLUE_OK || !out) return "";
  std::string s = out;
  curl_free(out);
  return s;
}

// The answer's body is not needed: only its status is.
std::size_t discard(char*, std::size_t size, std::size_t count, void*) {
  return size * count;
}

}  // namespace

std::string Notification::entity_id() const {
  return text(data, "entity_id");
}

std::string Notification::message() const {
  return text(data, "message");
}

std::string Notification::title() const {
  if (kind == notification::kReminder.stream_type) return "Visit reminder";
  if (kind == notification::kFollowup.stream_type) return "Invoice follow-up";
  return "Notification";
}

nlohmann::json Notification::body() const {
  return {{"event_id", event_id},     {"kind", kind},
          {"title", title()},         {"message", message()},
          {"account_id", account_id}, {"entity_id", entity_id()},
          {"attempt", attempt},       {"data", data}};
}

Attempt LogNotifier::send(const Notification& n) {
  log_notification(n);
  Attempt a;
  a.number = n.attempt;
  a.delivered = true;
  return a;
}

Attempt classify(int status, std::string error) {
  Attempt a;
  a.http_status = status;
  if (status >= 200 && status < 300) {
    a.delivered = true;
    return a;
  }
  // No answer, a timeout, "too many requests" or a server error may go
  // otherwise later; anything else is the receiver refusing this request.
  const bool later = status == 0 || status == 408 || status == 429 || status >= 500;
  a.permanent = !later;
  a.error = error.empty() ? "HTTP " + std::to_string(status) : std::move(error);
  return a;
}

std::string HttpNotifier::redacted(const std::string& url) {
  const Url u = parse(url);
  if (!u) return "(unparsable URL)";
  for (const CURLUPart p : {CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_OPTIONS, CURLUPART_QUERY,
                            CURLUPART_FRAGMENT}) {
    curl_url_set(u.get(), p, nullptr, 0);
  }
  return part(u.get(), CURLUPART_URL);
}

HttpNotifier::HttpNotifier(std::string url, std::chrono::milliseconds timeout)
    : url_(std::move(url)), safe_url_(redacted(url_)), timeout_(timeout) {
  init_curl();
  const Url u = parse(url_);
  const std::string scheme = u ? part(u.get(), CURLUPART_SCHEME) : "";
  if (scheme != "http" && scheme != "https") {
    throw std::invalid_argument("the notification URL must be http(s)://...: " + safe_url_);
  }
  if (timeout_.count() <= 0) throw std::invalid_argument("the notification timeout must be > 0");
}

Attempt HttpNotifier::send(const Notification& n) {
  log_notification(n);
  const std::string body = n.body().dump();
  // One handle per attempt: nothing is shared between threads, and a
  // notification every few minutes gains nothing from a kept connection.
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return classify(0, "libcurl could not start a transfer");
  curl_slist* list = nullptr;
  for (const std::string& h :
       {std::string("Content-Type: application/json"), "Idempotency-Key: " + n.event_id,
        "Title: " + n.title(), std::string("X-Template: yes"),
        std::string("X-Message: {{.message}}"),
        std::string("Expect:")}) {  // no "100-continue" round trip
    list = curl_slist_append(list, h.c_str());
  }
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(list, curl_slist_free_all);
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, "fsm-worker");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for DNS timeouts: threads
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  const CURLcode rc = curl_easy_perform(c);
  long status = 0;
  if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  Attempt a =
      rc == CURLE_OK ? classify(static_cast<int>(status)) : classify(0, curl_easy_strerror(rc));
  a.number = n.attempt;
  if (!a.delivered) {
    log::warn("notification not delivered", {{"kind", n.kind},
                                             {"event_id", n.event_id},
                                             {"url", safe_url_},
                                             {"http_status", a.http_status},
                                             {"error", a.error},
                                             {"permanent", a.permanent},
                                             {"attempt", a.number}});
  }
  return a;
}

std::unique_ptr<Notifier> notifier_from_env() {
  const std::string url = env::get_string("FSM_NOTIFY_URL", "");
  const auto timeout =
      std::chrono::milliseconds(env::get_int("FSM_NOTIFY_TIMEOUT_MS", 5000, 100, 60000));
  if (url.empty()) return std::make_unique<LogNotifier>();
  try {
    return std::make_unique<HttpNotifier>(url, timeout);
  } catch (const std::invalid_argument& e) {
    throw env::ConfigError(std::string("FSM_NOTIFY_URL: ") + e.what());
  }
}

}  // namespace fsm::worker
