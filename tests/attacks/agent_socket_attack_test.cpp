// hoist-agent's Unix socket against a local user (issue 17, items 5 and 9):
// the socket is world-writable, so any user may connect; none may deny
// sudo to the others, reach break-glass by filling it, hold connections
// that say nothing, or make the agent record a decision for a command that
// never ran. The real sudo, hoist_sudo.so, hoist-agent and hoistd.
#include <boost/json.hpp>

#include "attacks/agent_attack_support.h"
#include "ipc/frame.h"

namespace hoist::testing {
namespace {

class AgentSocketAttack : public AgentAttackE2E {
 protected:
  void SetUp() override {
    if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
    AgentAttackE2E::SetUp();
    if (HasFatalFailure()) return;
    use_open_dir("hoist-attack-socket");
    ASSERT_EQ(enroll(), 0) << slurp(log_);
    start_agent();
    conf_ = attack_sudo_conf(hoistd_.dir(), socket_, spool_dir());
  }

  // `sudo -n /usr/bin/id -u` as `user`: "0\n" when it ran as root.
  SudoRun sudo_id(const std::string& user) {
    return sudo_as(user, conf_, "timeout 20 sudo -n /usr/bin/id -u", hoistd_.dir());
  }

  std::string conf_;
};

// Attacker: a local user allowed nothing.
// Goal:     deny sudo to everyone by filling the agent's socket with idle
//           connections (64 used to fill its one global limit; every
//           other sudo then said "hoist-agent is not running").
// Must hold: while the attacker keeps 80 connections open (reopening each
//           one the agent closes), another user's sudo, the attacker's own
//           sudo and root's requests are all answered.
TEST_F(AgentSocketAttack, OneUserFillingTheSocketDeniesNobody) {
  AttackUser attacker("-sa");
  AttackUser victim("-sv");
  ASSERT_TRUE(attacker.ok() && victim.ok()) << "cannot create test users";
  ConnectionFlood flood(socket_, attacker.uid(), attacker.gid(), 80);
  ASSERT_TRUE(flood.ok());
  std::this_thread::sleep_for(milliseconds(1500));

  auto victims = sudo_id(victim.name());
  EXPECT_EQ(victims.out, "0\n") << "another user's sudo was denied: " << victims.err;
  auto attackers = sudo_id(attacker.name());
  EXPECT_EQ(attackers.out, "0\n") << "the attacker's own sudo was denied: " << attackers.err;
  auto roots = check("/usr/bin/id", {"id"});
  ASSERT_TRUE(roots) << "root was not answered: " << roots.error().message;
  EXPECT_EQ(roots->action, Action::kAllow);
}

// Attacker: a member of a break-glass group (break-glass is for an agent
//           that is really down, and needs no approval).
// Goal:     reach break-glass at will by filling the agent's socket, so
//           that their sudo finds no agent.
// Must hold: their sudo gets the agent's answer (here: `id` runs, allowed
//           by the policy); break-glass is never offered.
TEST_F(AgentSocketAttack, FillingTheSocketDoesNotOpenBreakGlass) {
  RootDir etc("/run");
  ASSERT_TRUE(etc.ok()) << "cannot make a root-owned directory under /run";
  TestGroup group("hoist-e2e-" + std::to_string(::getpid()) + "-sg");
  ASSERT_TRUE(group.ok()) << "cannot create a test group";
  ASSERT_TRUE(etc.put("break-glass", group.name() + "\n", 0644));
  AttackUser member("-sb", group.name(), std::string(kAttackPassword));
  ASSERT_TRUE(member.ok()) << "cannot create a test user";
  const std::string conf =
      attack_sudo_conf(hoistd_.dir(), socket_, spool_dir(), "break_glass_file=" + etc.path() + "/break-glass");
  ConnectionFlood flood(socket_, member.uid(), member.gid(), 80);
  ASSERT_TRUE(flood.ok());
  std::this_thread::sleep_for(milliseconds(1500));

  TtySudo sudo(member.name(), conf, "sudo /usr/bin/id");
  const bool ran = sudo.expect("uid=0(root)", seconds(20));
  sudo.wait_exit(seconds(10));
  EXPECT_EQ(sudo.output().find("break-glass"), std::string::npos) << "break-glass was offered: " << sudo.output();
  EXPECT_TRUE(ran) << "the agent did not answer the member's sudo: " << sudo.output();
}

// Attacker: a local user.
// Goal:     hold connections to the agent that send nothing, for as long
//           as possible (each one a thread and a slot).
// Must hold: the agent closes a connection that has sent nothing within
//           5 s (it used to wait 30 s).
TEST_F(AgentSocketAttack, AConnectionThatSaysNothingIsClosedSoon) {
  AttackUser attacker("-si");
  ASSERT_TRUE(attacker.ok()) << "cannot create a test user";
  const std::string socket = socket_;
  const int held = run_as(attacker.uid(), attacker.gid(), [&socket] {
    const int fd = connect_unix(socket, false);
    if (fd < 0) return 100;
    const auto start = steady_clock::now();
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20'000) <= 0) return 99;  // still open after 20 s
    char byte = 0;
    if (::read(fd, &byte, 1) != 0) return 98;  // something else than a close
    return static_cast<int>(std::chrono::duration_cast<seconds>(steady_clock::now() - start).count());
  });
  ASSERT_LT(held, 98) << "the agent kept an idle connection open (code " << held << ")";
  EXPECT_LE(held, 5) << "an idle connection was held " << held << " s";
}

// Attacker: a local user.
// Goal:     crash or stall the agent with frames it cannot take: a length
//           of 1 GiB, a field key of forbidden bytes, a frame that never
//           ends, garbage.
// Must hold: each is refused (an error, or the connection closed) and the
//           agent goes on answering everyone.
TEST_F(AgentSocketAttack, MalformedAndOversizeFramesAreRefused) {
  AttackUser attacker("-sm");
  AttackUser victim("-sn");
  ASSERT_TRUE(attacker.ok() && victim.ok()) << "cannot create test users";
  const std::string socket = socket_;
  const std::vector<std::string> inputs = {
      std::string("\x40\x00\x00\x00", 4),                           // 1 GiB announced
      std::string("\x00\x00\x00\x09\x03K!Y\x00\x00\x00\x01x", 13),  // a key with forbidden bytes
      std::string("\x00\x03\x00\x00", 4) + std::string(1000, 'z'),  // 196 KiB announced, 1000 bytes sent
      std::string(300 * 1024, '\xff'),                              // garbage
  };
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string input = inputs[i];
    const int outcome = run_as(attacker.uid(), attacker.gid(), [&socket, &input] {
      const int fd = connect_unix(socket, false);
      if (fd < 0) return 100;
      (void)::send(fd, input.data(), input.size(), MSG_NOSIGNAL);
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 15'000) <= 0) return 99;  // neither answered nor closed
      return 0;
    });
    EXPECT_EQ(outcome, 0) << "input " << i << " was neither refused nor closed";
  }
  EXPECT_EQ(sudo_id(victim.name()).out, "0\n") << "the agent stopped answering";
}

// Attacker: a local user allowed `id`.
// Goal:     put a decision into the audit trail for a command that never
//           ran, by sending `check` from a plain process instead of sudo.
// Must hold: the agent refuses it (permission denied) and no decision of
//           that user reaches hoistd.
TEST_F(AgentSocketAttack, CheckFromAPlainProcessIsRefused) {
  AttackUser attacker("-sc");
  AttackUser victim("-sd");
  ASSERT_TRUE(attacker.ok() && victim.ok()) << "cannot create test users";
  ipc::CommandContext c;
  c.user = attacker.name();
  c.uid = attacker.uid();
  c.gid = attacker.gid();
  c.command = "/usr/bin/id";
  c.argv = {"id", "never-ran"};
  c.cwd = "/";
  const ipc::Fields request = ipc::to_fields(ipc::CheckMessage{c});
  const std::string socket = socket_;
  const int answer = run_as(attacker.uid(), attacker.gid(), [&socket, &request] {
    auto client = endpoint::AgentConnection::connect(socket);
    if (!client) return 100;
    const int fd = ::open("/usr/bin/id", O_RDONLY | O_CLOEXEC);
    auto reply = client->call(request, fd);
    if (!reply) return 101;
    if (auto e = ipc::error_from(*reply)) return e->code == ErrorCode::kPermissionDenied ? 0 : 102;
    return 1;  // a decision: the agent took it
  });
  EXPECT_EQ(answer, 0) << "the agent answered a plain process's check (code " << answer << ")";
  // A later decision reaches hoistd; the forged one must not be there.
  EXPECT_EQ(sudo_id(victim.name()).out, "0\n");
  ASSERT_TRUE(eventually([&] { return audited("endpoint.decision", "user", victim.name()) == 1; }, seconds(20)))
      << slurp(log_);
  EXPECT_EQ(audited("endpoint.decision", "user", attacker.name()), 0U) << "a decision for a command that never ran";
}

}  // namespace
}  // namespace hoist::testing
