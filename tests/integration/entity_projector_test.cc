// Entity events projected inline into their read tables, and replayed.
#include "projections/entity_projector.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include "common/uuid.h"
#include "domain/job.h"
#include "events/pg_event_store.h"
#include "support/test_env.h"

namespace fsm::projections {
namespace {

using nlohmann::json;

class EntityProjectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    pool_ = std::make_unique<events::PgPool>(db_.url(), 1);
    pool_->add_preparer(events::PgEventStore::prepare);
    pool_->add_preparer(prepare_entity_projector);
    store_ = std::make_unique<events::PgEventStore>(*pool_);
  }

  // Appends `events` to a job stream and projects them in the same transaction.
  events::AppendResult append(const std::string& stream, int expected,
                              const std::vector<domain::DomainEvent>& evs) {
    events::AppendRequest req;
    req.stream_id = stream;
    req.stream_type = "job";
    req.expected_version = expected;
    req.metadata.account_id = account_;
    for (const auto& e : evs) req.events.push_back({new_uuid(), e.type, 1, e.data});
    auto outcome = store_->append(req, [](pqxx::work& tx, const auto& recorded) {
      for (const auto& e : recorded) apply_entity_event(tx, e);
    });
    return std::get<events::AppendResult>(outcome);
  }

  json row(const std::string& id) {
    pqxx::connection c(db_.url());
    auto r = pqxx::work(c).exec_params(
        "SELECT to_jsonb(j) - 'created_at' - 'updated_at' FROM jobs j WHERE id = $1", id);
    return r.empty() ? json(nullptr) : json::parse(r[0][0].c_str());
  }

  void replay_all() {
    pqxx::connection c(db_.url());
    events::PgEventStore::prepare(c);
    prepare_entity_projector(c);
    pqxx::work tx(c);
    // Every committed event, whatever other tests (in parallel, on the same
    // cluster) hold open: the gap-safe horizon would stop before the newest.
    auto batch =
        events::PgEventStore::read_all_in(tx, {}, 10000, events::PgEventStore::Horizon::kVisible);
    for (const auto& e : batch.events) apply_entity_event(tx, e);
    tx.commit();
  }

  testing::TestDatabase db_;
  std::unique_ptr<events::PgPool> pool_;
  std::unique_ptr<events::PgEventStore> store_;
  std::string account_ = new_uuid();
};

TEST_F(EntityProjectorTest, AJobsLifecycleIsProjectedInlineAndReplaysAreHarmless) {
  const auto id = new_uuid(), client = new_uuid();
  auto fields = domain::validate_body({{"client_id", client}, {"title", "Fix boiler"}},
                                      domain::job::create_fields(), domain::Mode::kCreate);
  ASSERT_TRUE(fields.ok());
  json created = *fields;
  created["status"] = "draft";
  created["priority"] = "normal";
  created["account_id"] = account_;
  append(id, 0, {{"JobCreated", created}});
  auto r = row(id);
  ASSERT_FALSE(r.is_null());
  EXPECT_EQ(r["title"], "Fix boiler");
  EXPECT_EQ(r["status"], "draft");
  EXPECT_EQ(r["version"], 1);
  EXPECT_EQ(r["account_id"], account_);
  EXPECT_EQ(r["client_id"], client);

  domain::EntityState state;
  for (const auto& e : store_->read_stream(id)) domain::evolve(state, e.type, e.data, e.version);
  auto patch = domain::job::patch(
      state, {{"title", "Fix boiler valve"}, {"scheduled_start", "2026-12-01T09:00:00.000Z"}});
  ASSERT_TRUE(patch.ok());
  append(id, 1, *patch);
  for (const auto& e : store_->read_stream(id)) domain::evolve(state, e.type, e.data, e.version);
  auto move = domain::job::transition(state, "scheduled", false);
  ASSERT_TRUE(move.ok());
  append(id, 2, *move);

  r = row(id);
  EXPECT_EQ(r["title"], "Fix boiler valve");
  EXPECT_EQ(r["status"], "scheduled");
  EXPECT_EQ(r["version"], 3);
  EXPECT_EQ(r["client_id"], client) << "columns absent from an update keep their values";
  EXPECT_FALSE(r["scheduled_start"].is_null());

  replay_all();
  replay_all();
  EXPECT_EQ(row(id), r) << "re-applying the log changed the row";
}

TEST_F(EntityProjectorTest, ADeletedEntityLeavesItsTable) {
  const auto id = new_uuid();
  append(id, 0, {{"JobCreated", {{"account_id", account_}, {"client_id", new_uuid()},
                                 {"title", "t"}, {"priority", "normal"}, {"status", "draft"}}}});
  append(id, 1, {{"JobDeleted", {{"previous", json::object()}}}});
  EXPECT_TRUE(row(id).is_null());
  replay_all();
  EXPECT_TRUE(row(id).is_null());
}

TEST_F(EntityProjectorTest, AProjectionConstraintRefusesTheCommandWithItsEvents) {
  // Users' email is unique per account through the read table's index: the
  // second creation fails inside the append's transaction, so its event is
  // not stored either.
  auto create_user = [&](const std::string& id) {
    events::AppendRequest req;
    req.stream_id = id;
    req.stream_type = "user";
    req.metadata.account_id = account_;
    req.events.push_back({new_uuid(), "UserCreated", 1,
                          {{"account_id", account_}, {"email", "ann@example.com"},
                           {"full_name", "Ann"}, {"role", "tech"}, {"phone", nullptr}}});
    return store_->append(req, [](pqxx::work& tx, const auto& recorded) {
      for (const auto& e : recorded) apply_entity_event(tx, e);
    });
  };
  const auto first = new_uuid(), second = new_uuid();
  EXPECT_TRUE(std::holds_alternative<events::AppendResult>(create_user(first)));
  EXPECT_THROW(create_user(second), pqxx::unique_violation);
  EXPECT_TRUE(store_->read_stream(second).empty());
}

}  // namespace
}  // namespace fsm::projections
