// The seam through which reminders and follow-ups leave the system.
//
// A Notifier makes one attempt and says how it went (domain::notification::
// Attempt): delivered, failed for now (tried again later), or failed for good
// (`permanent`). It never throws for a failed delivery, and it records nothing:
// Delivery (delivery.h) turns the attempt into an event.
//
// Every notification is logged. When FSM_NOTIFY_URL is set, it is also POSTed
// there as JSON with `Idempotency-Key: <the Created event's id>`, so a receiver
// can drop the repeat that at-least-once delivery sends after a crash. The
// same URL form serves a plain webhook and an ntfy topic
// (`https://ntfy.sh/<topic>` or a self-hosted server): ntfy reads the `Title`
// header, and with `X-Template: yes` (ntfy 2.10 and later) renders the
// `X-Message: {{.message}}` header from the JSON body, so the push shows the
// sentence rather than the JSON. A receiver that knows neither header ignores
// them.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "domain/notification.h"

namespace fsm::worker {

using domain::notification::Attempt;

struct Notification {
  std::string event_id;    // the Created event's id: the Idempotency-Key
  std::string kind;        // the stream type: "visit_reminder" | "invoice_followup"
  std::string stream_id;   // the notification's stream
  std::string account_id;  // from the Created event's metadata
  nlohmann::json data;     // the Created event's data (entity_id, message, ...)
  int attempt = 1;         // 1 for the first

  std::string entity_id() const;  // the visit or the invoice
  std::string message() const;    // the sentence a person reads
  std::string title() const;      // "Visit reminder", "Invoice follow-up"
  // The JSON POSTed: event_id, kind, title, message, account_id, entity_id,
  // attempt, and the Created event's data.
  nlohmann::json body() const;
};

class Notifier {
 public:
  virtual ~Notifier() = default;
  // One attempt. Safe to call from several threads at once.
  virtual Attempt send(const Notification& notification) = 0;
};

// Logs the notification (one JSON line: kind, event_id, entity_id, message)
// and reports it delivered: what an installation without a receiver gets.
class LogNotifier final : public Notifier {
 public:
  Attempt send(const Notification& notification) override;
};

// Logs it too, then POSTs it to `url` (http or https). 2xx: delivered; 408,
// 429, 5xx or no answer (refused, name not resolved, timed out, connection
// cut): failed for now; any other answer (a 4xx, an unfollowed redirect):
// failed for good, since the receiver will answer the same again.
//
// The URL may carry a secret (`user:pass@`, an ntfy `?auth=` token): it is
// logged and recorded without userinfo, query or fragment, and a failure's
// text is libcurl's generic one, never its message (which may quote the URL).
class HttpNotifier final : public Notifier {
 public:
  // `timeout` bounds the whole attempt (connecting included). Throws
  // std::invalid_argument for a URL that is not http(s).
  HttpNotifier(std::string url, std::chrono::milliseconds timeout);
  Attempt send(const Notification& notification) override;

  // `url` without userinfo, query or fragment: what may be logged.
  static std::string redacted(const std::string& url);

 private:
  std::string url_;
  std::string safe_url_;
  std::chrono::milliseconds timeout_;
};

// The outcome of an HTTP answer `status` (0: none came) as above; `error`
// describes a failure.
Attempt classify(int status, std::string error = "");

// FSM_NOTIFY_URL set: an HttpNotifier with FSM_NOTIFY_TIMEOUT_MS (default
// 5000); unset or empty: a LogNotifier. Throws env::ConfigError on a bad value.
std::unique_ptr<Notifier> notifier_from_env();

}  // namespace fsm::worker
