// A stop request that ends waits at once: the worker's loops sleep on it
// (between polls, during a retry's backoff) and SIGTERM must not wait for a
// sleep to run out.
//
// Signal handlers may not lock a mutex: a process turns SIGTERM into
// request_stop() from an ordinary thread (sigwait on a blocked signal, or a
// self-pipe), never from the handler itself.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace fsm::worker {

class StopSignal {
 public:
  void request_stop();
  bool stop_requested() const;
  // Ends the current or next wait early without stopping (new work: a
  // reminder was just appended).
  void wake();
  // Waits up to `timeout`, less when woken or stopped. Returns
  // stop_requested().
  bool wait_for(std::chrono::milliseconds timeout);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool woken_ = false;
};

}  // namespace fsm::worker
