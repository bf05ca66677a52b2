#include "http/worker_pool.h"

#include <sys/resource.h>
#include <unistd.h>

namespace fsm::http {
namespace {

constexpr int kWorkerNice = 5;
constexpr int kSlowNice = kWorkerNice + 5;

}  // namespace

void WorkerPool::start(int threads, int nice) {
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this, nice] {
      ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice);
      loop();
    });
  }
}

void WorkerPool::post(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
  ready_.notify_one();
}

void WorkerPool::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void WorkerPool::loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

void Lanes::start(int workers, int slow_workers) {
  workers_.start(workers, kWorkerNice);
  slow_.start(slow_workers, kSlowNice);
}

void Lanes::post(Lane lane, std::function<void()> job) {
  (lane == Lane::kSlow ? slow_ : workers_).post(std::move(job));
}

void Lanes::stop() {
  workers_.stop();
  slow_.stop();
}

}  // namespace fsm::http
