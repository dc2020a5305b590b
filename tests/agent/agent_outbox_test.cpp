// The Agent's outbox against a fake hoistd and the in-memory state: no
// event can hold up the ones behind it. An event's details are bounded
// when it is queued; an event hoistd refuses for good is found (a refused
// batch is halved), quarantined and reported, and the rest are delivered;
// a transport failure moves nothing. And who may make the agent queue a
// decision: only sudo's plugin (or root).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <map>

#include "agent/agent.h"
#include "agent/daemon.h"
#include "agent/event_bounds.h"
#include "agent/state/fake_agent_state.h"
#include "agent/state/sqlite_agent_state.h"
#include "fake_server.h"
#include "ipc/messages.h"
#include "platform/executable.h"
#include "platform/system_time_zones.h"

namespace hoist::agent {
namespace {

namespace json = boost::json;

const TimePoint kNow{Seconds{1'800'000'000}};
constexpr std::uint32_t kAlice = 1000;

constexpr std::string_view kPolicy = R"(version = 1
[settings]
default_action = "deny"

[[rule]]
name = "ids"
action = "allow"
path = "/usr/bin/id"
)";

OutboxEvent event(int n, const std::string& payload) {
  return OutboxEvent{fmt::format("{:032x}", n), "decision", EventTime{std::chrono::milliseconds{n}}, payload};
}

class AgentOutboxTest : public ::testing::Test {
 protected:
  AgentOutboxTest()
      : agent_(AgentDeps{state_,
                         server_,
                         zones_,
                         inspector_,
                         [this] { return now_; },
                         [](std::uint32_t uid) -> Result<Account> {
                           if (uid == kAlice) return Account{"alice", kAlice, kAlice, {"alice"}};
                           return not_found("no such user");
                         },
                         "host1",
                         {},
                         nullptr,
                         nullptr,
                         &uploads_,
                         0}) {}

  std::vector<OutboxEvent> queued() {
    auto batch = state_.next_batch(kMaxBatch);
    EXPECT_TRUE(batch.ok());
    return batch ? *batch : std::vector<OutboxEvent>{};
  }

  void use_policy() {
    ASSERT_TRUE(state_.set_policy(PolicySnapshot{"\"1\"", kNow, {}, {{"base", 1, std::string(kPolicy)}}}).ok());
    ASSERT_TRUE(agent_.load().ok());
  }

  static ipc::CommandContext context(std::vector<std::string> argv, const std::string& command = "/usr/bin/id") {
    ipc::CommandContext c;
    c.user = "alice";
    c.uid = kAlice;
    c.gid = kAlice;
    c.command = command;
    c.argv = std::move(argv);
    c.cwd = "/";
    return c;
  }

  ipc::Fields check_as(const Caller& caller, std::vector<std::string> argv,
                       const std::string& command = "/usr/bin/id") {
    return agent_.handle(caller, ipc::to_fields(ipc::CheckMessage{context(std::move(argv), command)}), -1).reply;
  }

  std::chrono::system_clock::time_point now_{kNow};
  platform::SystemTimeZones zones_;
  platform::ExecutableInspector inspector_{nullptr, nullptr};
  FakeAgentState state_;
  FakeServer server_;   // requests, heartbeat, policy
  FakeServer uploads_;  // the outbox's own connection
  Agent agent_;
};

// Attacker: a local user allowed nothing. Goal: stop the endpoint's audit
// by queueing an event hoistd refuses (the agent would send it forever,
// and every event behind it would stay on the endpoint).
TEST_F(AgentOutboxTest, ARefusedEventIsQuarantinedAndTheRestAreDelivered) {
  ASSERT_TRUE(state_
                  .enqueue_all({event(1, R"({"n":1})"), event(2, R"({"n":2})"), event(3, R"({"poison":1})"),
                                event(4, R"({"n":4})"), event(5, R"({"n":5})")})
                  .ok());
  uploads_.refuse_marker = "poison";
  auto outcome = agent_.upload_events();
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->acknowledged, 4U);
  ASSERT_EQ(outcome->quarantined.size(), 1U);
  EXPECT_EQ(outcome->quarantined[0].event.id, event(3, "").id);
  EXPECT_NE(outcome->quarantined[0].reason.find("longer than"), std::string::npos);
  EXPECT_TRUE(server_.uploads.empty()) << "uploads have their own connection";
  // Delivered: all but the refused one. Queued: its report.
  std::vector<std::string> delivered;
  for (const auto& e : uploads_.uploaded) delivered.push_back(e.id);
  EXPECT_EQ(delivered, (std::vector<std::string>{event(1, "").id, event(2, "").id, event(4, "").id, event(5, "").id}));
  const auto left = queued();
  ASSERT_EQ(left.size(), 1U);
  EXPECT_EQ(left[0].kind, "event.quarantined");
  const auto report = json::parse(left[0].payload).as_object();
  EXPECT_EQ(report.at("event_id"), json::string(event(3, "").id));
  EXPECT_EQ(report.at("target"), json::string(event(3, "").id));
  EXPECT_EQ(report.at("kind"), "decision");
  EXPECT_NE(std::string(report.at("reason").as_string()).find("longer than"), std::string::npos);
  EXPECT_EQ(*state_.quarantined_count(), 1U);
  // The report goes out with the next upload.
  outcome = agent_.upload_events();
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->acknowledged, 1U);
  EXPECT_TRUE(queued().empty());
}

// The second attack pass: hoistd takes 20 events a second from an
// endpoint, and a denied sudo queues one (its argv the user's, up to
// 12 KiB): one user looping sudo could fill the outbox, and then every
// allowed sudo on the computer is refused. Now each user's decisions that
// run nothing are queued up to a budget (60, then one a second) and the
// rest counted, recorded as one decisions.counted a minute; allowed
// commands are always queued.
TEST_F(AgentOutboxTest, OneUsersDenialsAreCountedPastTheirBudgetAndAllowsAreAlwaysQueued) {
  use_policy();
  const Caller alice{kAlice, 4321, true};
  const auto action = [](const ipc::Fields& reply) {
    auto a = reply.one("action");
    return a ? *a : std::string("(none)");
  };
  const auto kinds = [&] {
    std::map<std::string, int> n;
    for (const auto& e : queued()) ++n[e.kind];
    return n;
  };
  for (int i = 0; i < 500; ++i) {
    const auto reply = check_as(alice, {"env", std::string(100, 'A')}, "/usr/bin/env");
    ASSERT_EQ(action(reply), "deny");
    if (i % 100 == 0) now_ += std::chrono::milliseconds{500};
  }
  // 60 at once, then one a second over the 2 s that passed.
  EXPECT_EQ(kinds()["decision"], 62);
  // An allowed command is queued whatever the denials did.
  ASSERT_EQ(action(check_as(alice, {"id"})), "allow");
  EXPECT_EQ(kinds()["decision"], 63);
  // A minute after the first one held back: one event with the count.
  now_ += std::chrono::seconds{60};
  ASSERT_TRUE(agent_.tidy().ok());
  const auto all = queued();
  std::vector<OutboxEvent> counted;
  for (const auto& e : all) {
    if (e.kind == "decisions.counted") counted.push_back(e);
  }
  ASSERT_EQ(counted.size(), 1U);
  const auto d = json::parse(counted[0].payload).as_object();
  EXPECT_EQ(d.at("user"), "alice");
  EXPECT_EQ(d.at("uid").as_int64(), kAlice);
  EXPECT_EQ(d.at("count").as_int64(), 500 - 62);
  // Nothing more is due, and the budget is back after a quiet minute.
  ASSERT_TRUE(agent_.tidy().ok());
  EXPECT_EQ(kinds()["decisions.counted"], 1);
  ASSERT_EQ(action(check_as(alice, {"env"}, "/usr/bin/env")), "deny");
  EXPECT_EQ(kinds()["decision"], 64);  // 62 denials, the allowed id (a decision: no grant), this one
}

// The third attack pass: `sudo -l CMD` of an allowed command asks no
// password and runs nothing, and its event was queued without a budget.
// A listing goes through the user's budget like a deny; an outbox that is
// full loses no denial either: it is counted.
TEST_F(AgentOutboxTest, ListingsAreBudgetedAndADenialThatCannotBeQueuedIsCounted) {
  use_policy();
  const Caller alice{kAlice, 4321, true};
  auto listing = context({"id"});
  listing.mode = ipc::RunMode::kList;
  for (int i = 0; i < 300; ++i) {
    const auto reply = agent_.handle(alice, ipc::to_fields(ipc::CheckMessage{listing}), -1).reply;
    ASSERT_EQ(reply.one("action").value(), "allow");
  }
  EXPECT_EQ(queued().size(), 60U);
  // An allowed run is still queued.
  ASSERT_EQ(check_as(alice, {"id"}).one("action").value(), "allow");
  EXPECT_EQ(queued().size(), 61U);
  // A full outbox: the allowed run is refused, the denial counted.
  now_ += std::chrono::seconds{120};
  ASSERT_TRUE(agent_.tidy().ok());  // 240 listings' count, queued
  state_.fail_writes(unavailable("the outbox is full"));
  EXPECT_EQ(check_as(alice, {"id"}).one("action").value(), "deny");
  EXPECT_EQ(check_as(alice, {"env"}, "/usr/bin/env").one("action").value(), "deny");
  state_.fail_writes(std::nullopt);
  ASSERT_TRUE(agent_.flush_denials().ok());
  std::vector<std::int64_t> counts;
  for (const auto& e : queued()) {
    if (e.kind == "decisions.counted") counts.push_back(json::parse(e.payload).at("count").as_int64());
  }
  EXPECT_EQ(counts, (std::vector<std::int64_t>{240, 1}));
}

// hoist-agent status shows what was quarantined, from the real state file.
TEST(AgentStatus, ShowsQuarantinedEvents) {
  char tmpl[] = "/tmp/hoist-status-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = std::string(tmpl) + "/state";
  {
    auto state = open_sqlite_agent_state(dir);
    ASSERT_TRUE(state.ok()) << state.error().message;
    ASSERT_TRUE(
        (*state)
            ->set_identity(Identity{
                "https://hoistd:8443", {}, std::string(64, 'a'), "ep1", "hoist_agent_x", "host1", {}, kNow, {}, 0})
            .ok());
    ASSERT_TRUE((*state)->enqueue(event(7, R"({"n":7})")).ok());
    ASSERT_TRUE((*state)->quarantine(event(7, "").id, "details longer than 16384 bytes", kNow, std::nullopt).ok());
  }
  auto text = agent_status(dir);
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_NE(text->find("events quarantined (hoistd refused them for good; each was reported): 1"), std::string::npos)
      << *text;
  EXPECT_NE(text->find(event(7, "").id + " decision"), std::string::npos) << *text;
  EXPECT_NE(text->find("details longer than 16384 bytes"), std::string::npos) << *text;
  std::filesystem::remove_all(tmpl);
}

TEST_F(AgentOutboxTest, ARefusedReportIsQuarantinedWithoutAnotherReport) {
  ASSERT_TRUE(
      state_.enqueue(OutboxEvent{std::string(32, 'a'), "event.quarantined", EventTime{}, R"({"poison":1})"}).ok());
  uploads_.refuse_marker = "poison";
  auto outcome = agent_.upload_events();
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->quarantined.size(), 1U);
  EXPECT_TRUE(queued().empty()) << "no report of a report: that could go on for ever";
}

TEST_F(AgentOutboxTest, AnUnreachableHoistdMovesNothing) {
  ASSERT_TRUE(state_.enqueue_all({event(1, R"({"n":1})"), event(2, R"({"poison":1})")}).ok());
  uploads_.refuse_marker = "poison";
  uploads_.unreachable = true;
  EXPECT_FALSE(agent_.upload_events().ok());
  EXPECT_EQ(queued().size(), 2U);
  EXPECT_EQ(*state_.quarantined_count(), 0U) << "only hoistd's refusal quarantines";
}

TEST_F(AgentOutboxTest, ABatchIsBoundedInBytes) {
  for (int n = 1; n <= 100; ++n) {
    ASSERT_TRUE(state_.enqueue(event(n, json::serialize(json::object{{"x", std::string(11000, 'x')}}))).ok());
  }
  auto outcome = agent_.upload_events();
  ASSERT_TRUE(outcome.ok());
  ASSERT_EQ(uploads_.uploads.size(), 1U);
  EXPECT_LT(uploads_.uploads[0], 30U) << "about 256 KiB of details per upload";
  EXPECT_EQ(outcome->acknowledged, uploads_.uploads[0]);
}

// Attacker: a local user allowed nothing. Goal: a decision event too big
// for hoistd, with a sudo whose argv is over 16 KiB.
TEST_F(AgentOutboxTest, ADecisionOnAHugeArgvIsQueuedBounded) {
  use_policy();
  auto reply = check_as(Caller{kAlice, 4242, true}, {"id", std::string(100 * 1024, 'A')});
  auto decision = ipc::decision_from(reply);
  ASSERT_TRUE(decision.ok()) << decision.error().message;
  EXPECT_EQ(decision->action, Action::kAllow);
  const auto events = queued();
  ASSERT_EQ(events.size(), 1U);
  EXPECT_LE(events[0].payload.size(), kMaxEventDetailsBytes);
  const auto details = json::parse(events[0].payload).as_object();
  EXPECT_EQ(details.at("truncated"), true);
  EXPECT_EQ(details.at("argv_count"), 2);
  EXPECT_EQ(details.at("user"), "alice");
}

// Attacker: a local user. Goal: fake audit events (a decision on a command
// that never ran) by sending `check` from a plain process.
TEST_F(AgentOutboxTest, OnlySudoOrRootMaySendCheck) {
  use_policy();
  auto refused = ipc::error_from(check_as(Caller{kAlice, 4242, false}, {"id"}));
  ASSERT_TRUE(refused.ok()) << "a plain process's check must be refused";
  EXPECT_EQ(refused->code, ErrorCode::kPermissionDenied);
  EXPECT_NE(refused->message.find("sudo"), std::string::npos) << refused->message;
  EXPECT_TRUE(queued().empty()) << "nothing may be queued for it";
  // The plugin (a sudo process speaking for alice) may.
  EXPECT_TRUE(ipc::decision_from(check_as(Caller{kAlice, 4242, true}, {"id"})).ok());
  EXPECT_EQ(queued().size(), 1U);
}

// The plugin asks (record_after) to have an allow before its event is
// durable, and runs nothing until `recorded` follows: the event is queued
// by the follow-up, after the reply, and only an allow has one.
TEST_F(AgentOutboxTest, AnEarlyAllowIsRecordedByItsFollowUp) {
  use_policy();
  const Caller sudo{kAlice, 4242, true};
  auto turn = agent_.handle(sudo, ipc::to_fields(ipc::CheckMessage{context({"id"}), true}), -1);
  auto decision = ipc::decision_from(turn.reply);
  ASSERT_TRUE(decision.ok()) << decision.error().message;
  EXPECT_EQ(decision->action, Action::kAllow);
  ASSERT_TRUE(turn.follow_up);
  EXPECT_TRUE(queued().empty()) << "answered before it is recorded";
  const auto next = turn.follow_up();
  EXPECT_TRUE(ipc::recorded_from(next).ok());
  const auto events = queued();
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].kind, "decision");
  EXPECT_EQ(json::parse(events[0].payload).at("action"), "allow");
  // A denial is recorded before its answer, and nothing follows it.
  auto denied = agent_.handle(sudo, ipc::to_fields(ipc::CheckMessage{context({"w"}, "/usr/bin/w"), true}), -1);
  EXPECT_EQ(ipc::decision_from(denied.reply)->action, Action::kDeny);
  EXPECT_FALSE(denied.follow_up);
  EXPECT_EQ(queued().size(), 2U);
}

// Attacker: a full or failing disk after the early allow. Must hold: the
// follow-up says the decision is not recorded (the plugin then refuses).
TEST_F(AgentOutboxTest, AnEarlyAllowThatCannotBeRecordedSaysSo) {
  use_policy();
  auto turn = agent_.handle(Caller{kAlice, 4242, true}, ipc::to_fields(ipc::CheckMessage{context({"id"}), true}), -1);
  EXPECT_EQ(ipc::decision_from(turn.reply)->action, Action::kAllow);
  ASSERT_TRUE(turn.follow_up);
  state_.fail_writes(unavailable("disk full"));
  const auto next = turn.follow_up();
  auto error = ipc::error_from(next);
  ASSERT_TRUE(error.ok()) << "the follow-up must be an error";
  EXPECT_NE(error->message.find("cannot record this decision (disk full); nothing runs"), std::string::npos)
      << error->message;
  state_.fail_writes(std::nullopt);
  EXPECT_TRUE(queued().empty());
}

// sudoedit copies the files before the session: an edit is never answered
// before its event is recorded.
TEST_F(AgentOutboxTest, AnEditIsNeverAnsweredBeforeItIsRecorded) {
  use_policy();
  auto c = context({"sudoedit", "/etc/hosts"}, "/usr/bin/vi");
  c.mode = ipc::RunMode::kEdit;
  auto turn = agent_.handle(Caller{kAlice, 4242, true}, ipc::to_fields(ipc::CheckMessage{c, true}), -1);
  auto error = ipc::error_from(turn.reply);
  ASSERT_TRUE(error.ok());
  EXPECT_EQ(error->code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(turn.follow_up);
  EXPECT_TRUE(queued().empty());
}

}  // namespace
}  // namespace hoist::agent
