// hoist-agent while hoistd's PostgreSQL is down (hoistd itself up and
// answering 503): the agent keeps deciding from its cached policy and
// grants, so nobody who had a grant is locked out, a new request is refused
// as unavailable, and once PostgreSQL is back the agent submits again,
// without a restart of either. The real hoistd on a PostgreSQL cluster of
// the test's own (support/pg_cluster.h) and the real hoist-agent, asked over
// its socket as hoist_sudo.so asks (no sudo needed).
#include "agent/e2e_harness.h"
#include "support/pg_cluster.h"

namespace hoist::testing {
namespace {

class AgentPgOutageE2E : public AgentE2E {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.start()) << cluster_.error();
    ASSERT_TRUE(cluster_.create_database("hoist")) << cluster_.error();
    hoistd_.options().config_toml =
        "[database]\nbackend = \"postgres\"\nurl = \"" + cluster_.conninfo("hoist") + "\"\npool_size = 4\n";
    AgentE2E::SetUp();
  }

  PgCluster cluster_;
};

TEST_F(AgentPgOutageE2E, DecisionsAndGrantsGoOnWhilePostgresIsDown) {
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  auto allowed = check("/usr/bin/id", {"id"});
  ASSERT_TRUE(allowed) << allowed.error().message;
  ASSERT_EQ(allowed->action, Action::kAllow);

  auto submitted = state_of(
      ask(ipc::to_fields(ipc::SubmitMessage{context("/usr/bin/true", {"true"}), "restart the lab service", 600})));
  ASSERT_TRUE(submitted) << submitted.error().message;
  const std::string id = submitted->request_id;
  const auto approved =
      hoistd_.call_json("POST", "/api/v1/requests/" + id + "/approve", json::object{{"comment", "go ahead"}}, admin_);
  ASSERT_EQ(approved.status, 200) << approved;
  auto seen = state_of(ask(ipc::to_fields(ipc::WaitMessage{id, 10000}), "", 11000));
  ASSERT_TRUE(seen) << seen.error().message;
  ASSERT_EQ(seen->state, RequestState::kApproved);

  // PostgreSQL goes away; hoistd stays up and answers 503 to everything
  // that needs it, the agent's polls and uploads included.
  cluster_.stop();
  const auto down = hoistd_.call("GET", "/api/v1/requests?limit=1", "", admin_);
  EXPECT_EQ(down.status, 503) << down;
  std::this_thread::sleep_for(seconds(3));  // the agent's polls meet the 503s
  for (int round = 0; round < 3; ++round) {
    auto offline = check("/usr/bin/id", {"id"});
    ASSERT_TRUE(offline) << offline.error().message;
    EXPECT_EQ(offline->action, Action::kAllow) << "the cached policy still decides";
    auto denied = check("/usr/bin/od", {"od"});
    ASSERT_TRUE(denied) << denied.error().message;
    EXPECT_EQ(denied->action, Action::kDeny);
    auto granted = check("/usr/bin/true", {"true"});
    ASSERT_TRUE(granted) << granted.error().message;
    EXPECT_EQ(granted->action, Action::kAllow) << "the grant holder is not locked out";
    EXPECT_EQ(granted->grant_id, id);
    std::this_thread::sleep_for(seconds(1));
  }
  auto refused = state_of(ask(
      ipc::to_fields(ipc::SubmitMessage{context("/usr/bin/true", {"true", "x"}), "while the database is down", 600})));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable) << refused.error().message;
  EXPECT_TRUE(hoistd_.running()) << hoistd_.output();

  // Back: the agent submits again, neither restarted.
  ASSERT_TRUE(cluster_.start()) << cluster_.error();
  Result<ipc::RequestStateMessage> again = Error{ErrorCode::kUnavailable, "not tried"};
  EXPECT_TRUE(eventually(
      [&] {
        again = state_of(ask(
            ipc::to_fields(ipc::SubmitMessage{context("/usr/bin/true", {"true", "y"}), "the database is back", 600})));
        return again.ok();
      },
      milliseconds(10000)))
      << again.error().message;
  auto still = check("/usr/bin/true", {"true"});
  ASSERT_TRUE(still) << still.error().message;
  EXPECT_EQ(still->action, Action::kAllow);
  EXPECT_EQ(stop_agent(), 0);
}

}  // namespace
}  // namespace hoist::testing
