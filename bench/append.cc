// Appends through PgEventStore from N concurrent clients for a fixed time and
// prints one JSON line: events/s and commits/s. bench/append.sh runs it next to
// pgbench's raw INSERT rate on the same machine, in the same run.
#include <sodium.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <barrier>
#include <chrono>
#include <iostream>
#include <thread>

#include "common/uuid.h"
#include "events/pg_event_store.h"

int main(int argc, char** argv) {
  CLI::App app{"append benchmark"};
  std::string url;
  int clients = 8, batch = 1;
  double seconds = 10;
  app.add_option("--database-url", url)->required();
  app.add_option("--clients", clients)->check(CLI::Range(1, 256));
  app.add_option("--batch", batch, "events per append (one commit)")->check(CLI::Range(1, 1000));
  app.add_option("--seconds", seconds)->check(CLI::Range(0.5, 600.0));
  CLI11_PARSE(app, argc, argv);
  if (sodium_init() < 0) return 1;

  using Clock = std::chrono::steady_clock;
  std::atomic<long> commits{0}, conflicts{0}, failures{0};
  std::barrier start(clients + 1);
  Clock::time_point deadline;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      fsm::events::PgPool pool(url, 1);
      pool.add_preparer(fsm::events::PgEventStore::prepare);
      fsm::events::PgEventStore store(pool);
      pool.acquire();  // connect before timing starts
      fsm::events::AppendRequest req;
      req.stream_type = "job";
      req.metadata.account_id = fsm::new_uuid();
      req.metadata.actor_id = fsm::new_uuid();
      req.metadata.trace_id = "bench";
      req.stream_id = fsm::new_uuid();  // each client writes its own stream
      start.arrive_and_wait();
      while (Clock::now() < deadline) {
        req.events.clear();
        for (int i = 0; i < batch; ++i) {
          req.events.push_back({fsm::new_uuid(), "JobUpdated", 1,
                                {{"title", "Replace boiler valve"}, {"priority", "normal"}}});
        }
        try {
          auto outcome = store.append(req);
          if (auto* ok = std::get_if<fsm::events::AppendResult>(&outcome)) {
            req.expected_version = ok->new_version;
            ++commits;
          } else {
            ++conflicts;
          }
        } catch (const std::exception& e) {
          if (++failures == 1) std::cerr << "append failed: " << e.what() << "\n";
        }
      }
    });
  }
  deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(seconds));
  const auto t0 = Clock::now();
  start.arrive_and_wait();
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  std::cout << nlohmann::json{{"clients", clients},
                              {"batch", batch},
                              {"seconds", elapsed},
                              {"commits", commits.load()},
                              {"events", commits.load() * batch},
                              {"commits_per_s", commits.load() / elapsed},
                              {"events_per_s", commits.load() * batch / elapsed},
                              {"conflicts", conflicts.load()},
                              {"failures", failures.load()}}
                   .dump()
            << std::endl;
  return failures.load() == 0 && conflicts.load() == 0 ? 0 : 1;
}
