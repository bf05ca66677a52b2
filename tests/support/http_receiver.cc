#include "support/http_receiver.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "support/loopback.h"

namespace fsm::testing {
namespace {

// Appends what `fd` has to `buf`; false on EOF, an error, or nothing within 10 s.
bool read_more(int fd, std::string& buf) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 10000) <= 0) return false;
  char chunk[4096];
  const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
  if (n <= 0) return false;
  buf.append(chunk, static_cast<std::size_t>(n));
  return true;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// One request from `fd` (head, then a Content-Length body); false when the
// client closed or sent something else.
bool read_request(int fd, HttpReceiver::Request& req) {
  std::string buf;
  std::size_t head_end;
  while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (!read_more(fd, buf)) return false;
  }
  std::size_t at = buf.find("\r\n");
  const std::string line = buf.substr(0, at);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) return false;
  req.method = line.substr(0, sp1);
  req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  while (at < head_end) {
    const auto next = buf.find("\r\n", at + 2);
    const std::string h = buf.substr(at + 2, next - at - 2);
    const auto colon = h.find(':');
    if (colon != std::string::npos)
      req.headers[lower(h.substr(0, colon))] = trim(h.substr(colon + 1));
    at = next;
  }
  const auto cl = req.headers.find("content-length");
  const std::size_t length = cl == req.headers.end() ? 0 : std::stoul(cl->second);
  req.body = buf.substr(head_end + 4);
  while (req.body.size() < length) {
    if (!read_more(fd, req.body)) return false;
  }
  return true;
}

// Waits until the client closes its side (it gave up), or 10 s of silence.
void wait_for_close(int fd) {
  std::string ignored;
  while (read_more(fd, ignored)) ignored.clear();
}

void answer(int fd, int status) {
  const std::string reply = "HTTP/1.1 " + std::to_string(status) +
                            " Scripted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
}

}  // namespace

HttpReceiver::HttpReceiver() {
  listen_fd_ = listen_on_loopback(0);
  port_ = local_port(listen_fd_);
  if (::pipe(wake_) != 0) throw std::runtime_error("receiver: pipe failed");
  thread_ = std::thread([this] { loop(); });
}

HttpReceiver::~HttpReceiver() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  (void)!::write(wake_[1], "x", 1);
  thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

std::string HttpReceiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void HttpReceiver::answer_next(std::vector<int> answers) {
  std::lock_guard lock(mu_);
  answers_.insert(answers_.end(), answers.begin(), answers.end());
}

void HttpReceiver::refuse() {
  std::unique_lock lock(mu_);
  want_listening_ = false;
  (void)!::write(wake_[1], "x", 1);
  cv_.wait(lock, [this] { return listen_fd_ < 0; });
}

void HttpReceiver::accept_again() {
  std::unique_lock lock(mu_);
  want_listening_ = true;
  (void)!::write(wake_[1], "x", 1);
  cv_.wait(lock, [this] { return listen_fd_ >= 0; });
}

std::vector<HttpReceiver::Request> HttpReceiver::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::map<std::string, int> HttpReceiver::count_by_key() const {
  std::map<std::string, int> out;
  for (const auto& r : requests()) {
    const auto it = r.headers.find("idempotency-key");
    ++out[it == r.headers.end() ? "" : it->second];
  }
  return out;
}

void HttpReceiver::apply_listening() {
  std::lock_guard lock(mu_);
  if (!want_listening_ && listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  } else if (want_listening_ && listen_fd_ < 0) {
    listen_fd_ = listen_on_loopback(port_);
  }
  cv_.notify_all();
}

void HttpReceiver::loop() {
  for (;;) {
    int lfd;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      lfd = listen_fd_;
    }
    pollfd fds[2] = {{wake_[0], POLLIN, 0}, {lfd, POLLIN, 0}};
    if (::poll(fds, lfd >= 0 ? 2 : 1, -1) < 0) continue;
    if (fds[0].revents & POLLIN) {
      char c;
      (void)!::read(wake_[0], &c, 1);
      apply_listening();
      continue;
    }
    if (lfd >= 0 && (fds[1].revents & POLLIN)) {
      const int fd = ::accept(lfd, nullptr, nullptr);
      if (fd >= 0) {
        serve(fd);
        ::close(fd);
      }
    }
  }
}

void HttpReceiver::serve(int fd) {
  Request req;
  if (!read_request(fd, req)) return;
  int status = 200;
  {
    std::lock_guard lock(mu_);
    requests_.push_back(std::move(req));
    if (!answers_.empty()) {
      status = answers_.front();
      answers_.pop_front();
    }
  }
  if (status == kSilence) {
    wait_for_close(fd);
  } else if (status != kHangUp) {
    answer(fd, status);
  }
}

}  // namespace fsm::testing
