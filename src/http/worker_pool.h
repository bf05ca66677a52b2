// The threads that run handlers off the reactors: one pool per lane
// (router.h), each at a lower priority than the reactors.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "http/router.h"

namespace fsm::http {

// A fixed set of threads running posted jobs in order of arrival, at a
// `nice` level: on busy cores the reactors, which read every connection and
// answer health, come first.
class WorkerPool {
 public:
  void start(int threads, int nice);
  void post(std::function<void()> job);
  // Runs what is queued, then joins.
  void stop();

 private:
  void loop();

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

// The pools behind the lanes: Lane::kSlow has its own, at a lower priority
// still, so a burst of logins never holds the workers; anything else posted
// here runs on the workers (Lane::kInline work only comes here when it
// follows an answer the writer thread finished).
class Lanes {
 public:
  void start(int workers, int slow_workers);
  void post(Lane lane, std::function<void()> job);
  void stop();

 private:
  WorkerPool workers_;
  WorkerPool slow_;
};

}  // namespace fsm::http
