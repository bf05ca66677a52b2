// What every aggregate module builds on: its events, its state machine, the
// entities it relies on, and the rows of others that block a change to it.
//
// An aggregate module (client.h, job.h, invoice.h, ...) holds all of its
// rules: the fields a body may carry, creation defaults, the state machine,
// pricing and numbering. It is pure: no SQL, no HTTP, no clock. What it needs
// from other aggregates it names as data (`Reference`, `Relation`), and the
// command layer (src/commands) looks them up under locks and passes in the
// answers; the time comes in as an argument.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "domain/entity.h"
#include "domain/validation.h"

namespace fsm::domain {

using Events = std::vector<DomainEvent>;

// An aggregate's stream type ("job", also its audit rows' entity_type) and
// the prefix of its event types ("Job" → JobCreated).
struct Kind {
  const char* stream_type;
  const char* name;
};

// A creation decided from validated input: the Created event and the
// entities it relies on.
struct Creation;

// Another entity a command relies on (the client of a new job). The command
// layer share-locks it for the rest of the transaction, so it cannot be
// deleted or changed before the command commits, and checks it: it must be a
// live entity of the account, and optionally a column of its row must equal /
// must not equal a value.
struct Reference {
  std::string stream_type;  // "client"
  std::string id;
  Error missing;  // when the account has no such live entity
  std::string column = "id";
  std::optional<std::string> equals = std::nullopt;
  std::optional<std::string> differs = std::nullopt;
  Error mismatch = Error::of(ErrorCode::kValidation, "");
};

struct Creation {
  DomainEvent event;
  std::vector<Reference> references;
};

// Rows of another aggregate that point at an entity: live `stream_type`
// rows of the account whose `column` is the entity's id (and, when
// `statuses` is not empty, whose status is one of them).
struct Relation {
  std::string stream_type;
  std::string column;
  std::vector<std::string> statuses = {};
};

// A change refused while a relation holds (a client with jobs is not deleted).
struct Blocker {
  Relation relation;
  Error error;
};

// A state machine: for each status, the statuses it may move to.
using TransitionTable = std::map<std::string, std::set<std::string>>;
bool allowed(const TransitionTable& table, const std::string& from, const std::string& to);
// INVALID_TRANSITION: "a job cannot go from draft to invoiced".
Error invalid_transition(const std::string& kind, const std::string& from, const std::string& to);
// A VALIDATION_ERROR on `status` unless `to` is one of `statuses`.
std::optional<Error> check_status(const std::vector<std::string>& statuses, const std::string& to,
                                  const std::string& kind);

// Field specification shorthands.
FieldSpec text_field(const char* name, bool required, std::size_t max = 500);
FieldSpec uuid_field(const char* name, bool required);
FieldSpec time_field(const char* name, bool required = false);
FieldSpec enum_field(const char* name, std::vector<std::string> choices, bool required = false);
// The specs without the named fields.
std::vector<FieldSpec> without(std::vector<FieldSpec> specs, const std::set<std::string>& drop);
// In a PATCH, a required field may change but never be cleared.
std::vector<FieldSpec> for_patch(std::vector<FieldSpec> specs);
// {status}: the body of every transition.
const std::vector<FieldSpec>& transition_fields();

// The state's fields with `patch` applied.
nlohmann::json merged(const EntityState& state, const nlohmann::json& patch);

// start < end when both are set.
std::vector<Issue> check_schedule(const nlohmann::json& fields, const char* start, const char* end);

// A Created event of `kind` with `fields` and the account.
DomainEvent created(const Kind& kind, nlohmann::json fields, const std::string& account_id);
// One Updated event for the patch (none when nothing changes).
Events update_events(const Kind& kind, const EntityState& state, const nlohmann::json& patch);

// A 400 VALIDATION_ERROR naming the body field that references nothing.
Error bad_reference(const std::string& field, const std::string& what);
// 409: an entity still referenced by `what`.
Error still_referenced(const std::string& what);

}  // namespace fsm::domain
