// GoogleMock of the notifier seam (src/worker/notifier.h).
#pragma once

#include <gmock/gmock.h>

#include "worker/notifier.h"

namespace fsm::testing {

class MockNotifier : public worker::Notifier {
 public:
  MOCK_METHOD(worker::Attempt, send, (const worker::Notification& notification), (override));
};

}  // namespace fsm::testing
