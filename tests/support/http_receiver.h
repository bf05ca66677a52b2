// A local HTTP receiver for tests of what the system sends out (webhooks,
// ntfy pushes): it listens on 127.0.0.1 at a free port, records each request
// it reads before answering it, and answers as scripted: 200 unless told
// otherwise, so it can fail (a 503, a hang-up, silence, a refused connection)
// and then recover.
//
// One connection at a time, one request per connection (it answers with
// `Connection: close`). Recording before answering means that once a client's
// call has returned, its request is in requests().
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fsm::testing {

class HttpReceiver {
 public:
  struct Request {
    std::string method;
    std::string target;                          // path and query, as sent
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
  };

  // Scripted answers besides HTTP statuses.
  static constexpr int kHangUp = 0;    // close the connection without answering
  static constexpr int kSilence = -1;  // answer nothing until the client gives up

  HttpReceiver();
  ~HttpReceiver();
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  int port() const { return port_; }
  // http://127.0.0.1:<port><path>
  std::string url(const std::string& path = "/hook") const;

  // The next requests get these answers, in order; then 200 again.
  void answer_next(std::vector<int> answers);
  // Closes the listening socket: connections are refused until
  // accept_again() listens on the same port again.
  void refuse();
  void accept_again();

  std::vector<Request> requests() const;
  // How many requests came with each Idempotency-Key.
  std::map<std::string, int> count_by_key() const;

 private:
  void loop();
  // Applies a change of listening state asked for by refuse/accept_again.
  void apply_listening();
  void serve(int fd);

  int port_ = 0;
  int wake_[2] = {-1, -1};  // a pipe: refuse, accept_again and the destructor wake loop()
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int listen_fd_ = -1;
  bool want_listening_ = true;
  bool stopping_ = false;
  std::deque<int> answers_;
  std::vector<Request> requests_;
  std::thread thread_;
};

}  // namespace fsm::testing
