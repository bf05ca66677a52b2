// A stop request or a wake-up ends a long wait at once, from another thread.
#include "worker/stop_signal.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>

namespace fsm::worker {
namespace {

using std::chrono::hours;
using std::chrono::steady_clock;

TEST(StopSignalTest, AStopEndsAWaitAtOnceAndEveryLaterOne) {
  StopSignal stop;
  auto waited = std::async(std::launch::async, [&] { return stop.wait_for(hours(1)); });
  stop.request_stop();
  ASSERT_EQ(waited.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(waited.get());
  EXPECT_TRUE(stop.stop_requested());
  const auto started = steady_clock::now();
  EXPECT_TRUE(stop.wait_for(hours(1)));
  EXPECT_LT(steady_clock::now() - started, std::chrono::seconds(10));
}

TEST(StopSignalTest, AWakeEndsOneWaitWithoutStopping) {
  StopSignal stop;
  stop.wake();  // before the wait: the wait still ends
  EXPECT_FALSE(stop.wait_for(hours(1)));
  auto waited = std::async(std::launch::async, [&] { return stop.wait_for(hours(1)); });
  stop.wake();
  ASSERT_EQ(waited.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_FALSE(waited.get());
  EXPECT_FALSE(stop.stop_requested());
  EXPECT_FALSE(stop.wait_for(std::chrono::milliseconds(1)));  // the wake was used up
}

}  // namespace
}  // namespace fsm::worker
