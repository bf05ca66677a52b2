#include "worker/stop_signal.h"

namespace fsm::worker {

void StopSignal::request_stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

bool StopSignal::stop_requested() const {
  std::lock_guard lock(mu_);
  return stop_;
}

void StopSignal::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

bool StopSignal::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [this] { return stop_ || woken_; });
  woken_ = false;
  return stop_;
}

}  // namespace fsm::worker
