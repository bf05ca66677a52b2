// libFuzzer target: the request-body path every command takes before it
// touches the database. Arbitrary bytes go through JSON parsing, strict
// validation of each resource's fields (create and patch), and the pure
// decisions that follow (schedules, state machines, user rules). Nothing may
// crash, trip ASan/UBSan, or leak; every refusal must be an Error value.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "common/time.h"
#include "domain/client.h"
#include "domain/job.h"
#include "domain/property.h"
#include "domain/user.h"
#include "domain/visit.h"
#include "domain/validation.h"

namespace {

using fsm::domain::EntityState;
using fsm::domain::FieldSpec;
using fsm::domain::Mode;
using nlohmann::json;

const std::vector<FieldSpec>& specs_for(std::uint8_t selector) {
  using namespace fsm::domain;
  static const std::vector<FieldSpec> line = {
      {"description", FieldType::kText, true, false, 500},
      {"quantity", FieldType::kQuantity, true, false},
      {"unit_price_cents", FieldType::kInt, true, false, 0, {}, -2147483647, 2147483647}};
  switch (selector % 11) {
    case 10: return line;
    case 0: return client::fields();
    case 1: return property::fields();
    case 2: return job::create_fields();
    case 3: return job::patch_fields();
    case 4: return visit::create_fields();
    case 5: return visit::patch_fields();
    case 6: return user::create_fields();
    case 7: return user::patch_fields();
    case 8: return transition_fields();
    default: return visit::transition_fields();
  }
}

EntityState state(const char* status, json fields = json::object()) {
  EntityState s;
  s.exists = true;
  s.version = 3;
  s.fields = std::move(fields);
  s.fields["status"] = status;
  return s;
}

// Every Error must carry a code the HTTP layer maps; reaching here with an
// exception is a bug the fuzzer reports as a crash.
void check(const fsm::Result<fsm::domain::Events>& r) {
  if (!r.ok() && r.error().message.empty()) throw std::logic_error("error without a message");
}

void decide_everything(const json& body) {
  using namespace fsm::domain;
  const std::string to = body.contains("status") && body["status"].is_string()
                             ? body["status"].get<std::string>()
                             : "scheduled";
  const json notes = body.contains("tech_notes") ? body["tech_notes"] : json();
  for (const char* s : {"draft", "quoted", "scheduled", "in_progress", "completed", "cancelled",
                        "invoiced"}) {
    check(job::transition(state(s), to, s[0] == 'c'));
    check(job::patch(state(s), body));
    check(job::remove(state(s)));
  }
  for (const char* s : {"scheduled", "arrived", "in_progress", "completed", "cancelled"}) {
    check(visit::transition(state(s, {{"assigned_user_id", "u"}}), to, notes,
                                  "2026-11-28T09:30:00.000Z"));
    check(visit::patch(state(s), body, "admin"));
  }
  check(user::patch(state("", {{"role", "owner"}}), body, "admin"));
  check(user::patch(state("", {{"role", "tech"}}), body, "owner"));
  (void)check_schedule(body, "scheduled_start", "scheduled_end");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto& specs = specs_for(data[0]);
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  (void)fsm::parse_rfc3339(text);
  auto body = fsm::domain::parse_json_object(text);
  if (!body.ok()) return 0;
  for (Mode mode : {Mode::kCreate, Mode::kPatch}) {
    auto valid = fsm::domain::validate_body(*body, specs, mode);
    if (valid.ok()) {
      // Normalised output must survive a second validation unchanged (a
      // quantity is stored as its decimal text, which is not an input form).
      const bool text_quantities =
          std::any_of(specs.begin(), specs.end(),
                      [](const FieldSpec& f) { return f.type == fsm::domain::FieldType::kQuantity; });
      auto again = fsm::domain::validate_body(*valid, specs, Mode::kPatch);
      if (mode == Mode::kPatch && !text_quantities && (!again.ok() || *again != *valid)) {
        throw std::logic_error("validation is not idempotent");
      }
      decide_everything(*valid);
    }
  }
  return 0;
}
