// The event outbox against a local user: whatever one sudo puts in an
// event, the audit trail keeps flowing (issue 17, item 4). The real sudo,
// hoist_sudo.so, hoist-agent and hoistd (tests/agent/e2e_harness.h).
#include <boost/json.hpp>

#include "agent/state/sqlite_agent_state.h"
#include "attacks/agent_attack_support.h"
#include "core/sha256.h"
#include "ipc/frame.h"

namespace hoist::testing {
namespace {

class EventQueueAttack : public AgentAttackE2E {
 protected:
  void SetUp() override {
    if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
    AgentAttackE2E::SetUp();
    if (HasFatalFailure()) return;
    use_open_dir("hoist-attack-queue");
    ASSERT_EQ(enroll(), 0) << slurp(log_);
    start_agent();
  }

  // A break-glass use as the plugin spools it (docs/sudo-plugin.md).
  std::string spool_break_glass(const std::string& user) {
    ipc::Fields event;
    event.add_uint("v", ipc::kProtocolVersion).add("type", "break_glass");
    event.add_uint("time", 1'800'000'000).add("host", "e2e-agent");
    event.add("user", user).add_uint("uid", 4242).add_uint("gid", 4242);
    event.add("runas_user", "root").add_uint("runas_uid", 0);
    event.add("command", "/usr/bin/id").add("argv", "id");
    event.add("cwd", "/").add("tty", "/dev/pts/9").add_uint("pid", 1234).add("cause", "attack test");
    auto frame = ipc::encode_frame(event);
    EXPECT_TRUE(frame.ok());
    ::mkdir(spool_dir().c_str(), 0700);
    const std::string name = "1800000000-00000000attack01.event";
    const std::string tmp = spool_dir() + "/.tmp-attack";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(frame->data(), static_cast<std::streamsize>(frame->size()));
    }
    EXPECT_EQ(::chmod(tmp.c_str(), 0600), 0);
    EXPECT_EQ(::rename(tmp.c_str(), (spool_dir() + "/" + name).c_str()), 0);
    return name;
  }
};

// Attacker: a local user allowed nothing.
// Goal:     stop the endpoint's audit uploads with one denied sudo whose
//           argv is over 16 KiB (hoistd refuses details that long), so that
//           what happens next (a break-glass use, other users' sudo) never
//           leaves the endpoint.
// Must hold: the events behind it reach hoistd's audit trail; the oversize
//           decision reaches it too, its argv cut with the full length and
//           the SHA-256 of the full argv.
TEST_F(EventQueueAttack, AnArgvOver16KiBDoesNotStopTheAuditTrail) {
  AttackUser attacker("-qa");
  AttackUser victim("-qv");
  ASSERT_TRUE(attacker.ok() && victim.ok()) << "cannot create test users";
  const std::string conf = attack_sudo_conf(hoistd_.dir(), socket_, spool_dir());

  auto huge =
      sudo_as(attacker.name(), conf,
              "timeout 20 sudo -n /usr/bin/od -c \"$(head -c 20000 /dev/zero | tr \"\\000\" A)\"", hoistd_.dir());
  EXPECT_NE(huge.status, 0) << "od is not allowed: " << huge.err;
  auto ran = sudo_as(victim.name(), conf, "timeout 20 sudo -n /usr/bin/id -u", hoistd_.dir());
  EXPECT_EQ(ran.out, "0\n") << ran.err;
  const std::string spooled = spool_break_glass(victim.name());

  EXPECT_TRUE(eventually([&] { return audited("endpoint.decision", "user", victim.name()) == 1; }, seconds(20)))
      << "the victim's decision never reached hoistd: the outbox is stuck\n"
      << slurp(log_);
  EXPECT_TRUE(eventually([&] { return audited("endpoint.break_glass", "spool_file", spooled) == 1; }, seconds(20)))
      << "the break-glass use never reached hoistd\n"
      << slurp(log_);

  // The oversize decision itself: bounded, not lost.
  json::object details;
  for (const auto& e : audit_events("endpoint.decision")) {
    const auto& d = e.as_object().at("details").as_object();
    if (d.at("user") == json::string(attacker.name())) details = d;
  }
  ASSERT_FALSE(details.empty()) << "the oversize decision was neither delivered nor reported";
  EXPECT_EQ(details.at("truncated"), true);
  EXPECT_EQ(details.at("action"), "deny");
  const std::string full = std::string("/usr/bin/od\0-c\0", 15) + std::string(20000, 'A') + std::string(1, '\0');
  EXPECT_EQ(details.at("argv_sha256"), json::string(sha256(full).hex()));
  EXPECT_EQ(details.at("argv_count"), 3);
  EXPECT_EQ(details.at("argv_bytes"), full.size());
  EXPECT_NE(json::serialize(details.at("argv")).find("20000 bytes in all"), std::string::npos) << details;
}

// Attacker: a local user allowed `id` (any arguments).
// Goal:     the same, with an argument that is not UTF-8 (hoistd refuses a
//           body that is not valid UTF-8).
// Must hold: the decision and the ones after it reach the audit trail; the
//           bytes show as U+FFFD and the argv's SHA-256 is of the raw bytes.
TEST_F(EventQueueAttack, AnArgvThatIsNotUtf8DoesNotStopTheAuditTrail) {
  AttackUser attacker("-qu");
  AttackUser victim("-qw");
  ASSERT_TRUE(attacker.ok() && victim.ok()) << "cannot create test users";
  const std::string conf = attack_sudo_conf(hoistd_.dir(), socket_, spool_dir());
  (void)sudo_as(attacker.name(), conf, "timeout 20 sudo -n /usr/bin/id \"$(printf \"\\377\\376\")\"", hoistd_.dir());
  auto ran = sudo_as(victim.name(), conf, "timeout 20 sudo -n /usr/bin/id -u", hoistd_.dir());
  EXPECT_EQ(ran.out, "0\n") << ran.err;
  EXPECT_TRUE(eventually([&] { return audited("endpoint.decision", "user", victim.name()) == 1; }, seconds(20)))
      << "the victim's decision never reached hoistd: the outbox is stuck\n"
      << slurp(log_);
  json::object details;
  for (const auto& e : audit_events("endpoint.decision")) {
    const auto& d = e.as_object().at("details").as_object();
    if (d.at("user") == json::string(attacker.name())) details = d;
  }
  ASSERT_FALSE(details.empty()) << "the attacker's decision was lost";
  EXPECT_EQ(details.at("argv").as_array().at(1), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(details.at("argv_sha256"), json::string(sha256(std::string("/usr/bin/id\0\xff\xfe\0", 15)).hex()));
}

// Attacker: a local user allowed nothing, while hoistd is out of reach.
// Goal:     fill the endpoint's disk (or the outbox, which then refuses
//           every decision) faster than one event per sudo allows, with
//           sudo runs of 100 KiB argv each.
// Must hold: each queued event is at most hoistd's 16 KiB, whatever the
//           argv; all of them reach hoistd once it is back.
TEST_F(EventQueueAttack, HugeArgvsQueueBoundedEvents) {
  AttackUser attacker("-qg");
  ASSERT_TRUE(attacker.ok()) << "cannot create a test user";
  const std::string conf = attack_sudo_conf(hoistd_.dir(), socket_, spool_dir());
  const std::uint16_t port = hoistd_.port();
  ASSERT_EQ(hoistd_.stop(), 0);
  constexpr int kRuns = 8;
  auto r = sudo_as(attacker.name(), conf,
                   "big=\"$(head -c 100000 /dev/zero | tr \"\\000\" B)\"; for i in 1 2 3 4 5 6 7 8; do timeout 20 "
                   "sudo -n /usr/bin/od \"$big\" $i; done",
                   hoistd_.dir());
  EXPECT_NE(r.status, 0);
  {
    agent::SqliteAgentStateOptions read_only;
    read_only.read_only = true;
    auto state = agent::open_sqlite_agent_state(state_dir_, read_only);
    ASSERT_TRUE(state) << state.error().message;
    auto queued = (*state)->next_batch(agent::kMaxBatch);
    ASSERT_TRUE(queued) << queued.error().message;
    std::size_t decisions = 0;
    for (const auto& e : *queued) {
      EXPECT_LE(e.payload.size(), std::size_t{16} * 1024) << e.kind << " is queued at " << e.payload.size() << " bytes";
      if (e.kind == "decision") ++decisions;
    }
    EXPECT_EQ(decisions, static_cast<std::size_t>(kRuns));
  }
  hoistd_.options().port = port;
  ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
  EXPECT_TRUE(eventually([&] { return audited("endpoint.decision", "user", attacker.name()) == kRuns; }, seconds(60)))
      << slurp(log_);
}

}  // namespace
}  // namespace hoist::testing
