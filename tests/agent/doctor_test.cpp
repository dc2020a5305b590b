// hoist-agent doctor's checks over facts (src/agent/doctor.h): every class
// of finding with its exit status, what the admin is told to do, and the
// gathering's order over a fake probe. tests/agent/doctor_e2e_test.cpp runs
// the real binary against a real agent and hoistd.
#include "agent/doctor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>

#include "agent/daemon.h"
#include "core/timestamp.h"

namespace hoist::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TimePoint at(const char* text) {
  return *parse_timestamp(text);
}

constexpr const char* kSock = "/run/hoist/agent.sock";
constexpr const char* kHoistLine =
    "Plugin hoist_policy /usr/lib/hoist/hoist_sudo.so agent_socket=/run/hoist/agent.sock "
    "break_glass_file=/etc/hoist/break-glass\n";

FileFacts root_file(bool regular = true) {
  FileFacts f;
  f.exists = true;
  f.regular = regular;
  f.uid = 0;
  f.mode = 0644;
  f.directory_chain_trusted = true;
  return f;
}

// A healthy endpoint: every check ok.
DoctorFacts healthy() {
  DoctorFacts f;
  f.now = at("2026-12-07T12:00:00Z");
  f.sudo_conf.path = "/etc/sudo.conf";
  f.sudo_conf.file = root_file();
  f.sudo_conf.text = std::string("# sudo.conf\nPath askpass /usr/bin/ssh-askpass\n") + kHoistLine;
  PluginFileFacts plugin;
  plugin.path = "/usr/lib/hoist/hoist_sudo.so";
  plugin.file = root_file();
  plugin.file.mode = 0644;
  plugin.version = std::string(kAgentVersion);
  f.plugin = plugin;
  f.socket.path = kSock;
  f.socket.file.exists = true;
  f.socket.file.socket = true;
  f.socket.file.directory_chain_trusted = true;
  f.socket.parent_exists = true;
  f.socket.probe = SocketProbe::kAnswered;
  f.socket.peer_uid = 0;
  f.socket.peer_pid = 4242;
  f.state.dir = "/var/lib/hoist-agent";
  f.state.exists = true;
  f.state.enrolment =
      EnrolmentFacts{"https://hoistd.example:8443", "ep-01", "web-1", at("2026-12-01T09:00:00Z"), true, true, {}};
  f.state.policy = StoredPolicyFacts{"\"p-7\"", at("2026-12-07T11:00:00Z"), 2};
  f.server.tried = true;
  f.server.status = 200;
  f.server.sent = std::chrono::time_point_cast<milliseconds>(f.now);
  f.server.received = f.server.sent + milliseconds(40);
  f.server.server_time = f.now;
  f.server.policy = PolicyAtServer::kCurrent;
  BreakGlassFacts bg;
  bg.path = "/etc/hoist/break-glass";
  bg.file = root_file();
  bg.text = "# who may elevate while the agent is down\nops\n";
  bg.groups = {GroupFacts{"ops", true, 2}};
  f.break_glass = bg;
  f.packages.dpkg_available = true;
  f.packages.sudo_version = "1.9.13p3-1+deb12u4";
  f.packages.agent_version = std::string(kAgentVersion) + "-1";
  f.packages.running_binary = "/usr/sbin/hoist-agent";
  return f;
}

std::vector<Finding> of_class(const std::vector<Finding>& all, FindingClass c) {
  std::vector<Finding> out;
  std::copy_if(all.begin(), all.end(), std::back_inserter(out), [c](const Finding& f) { return f.cls == c; });
  return out;
}

// The one finding of `check` that is not ok, or a failure.
Finding the(const std::vector<Finding>& findings, Severity severity, const std::string& check) {
  std::vector<Finding> hits;
  for (const auto& f : findings) {
    if (f.severity == severity && f.check == check) hits.push_back(f);
  }
  EXPECT_EQ(hits.size(), 1u) << render_text(findings, false);
  return hits.empty() ? Finding{} : hits.front();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Doctor, AHealthyEndpointIsAllOkAndExitsZero) {
  const auto findings = diagnose(healthy());
  for (const auto& f : findings) {
    EXPECT_EQ(f.severity, Severity::kOk) << f.check << ": " << f.message;
    EXPECT_TRUE(f.fix.empty()) << f.check;
  }
  // One finding per check that applies, each class represented.
  for (int c = 1; c <= 6; ++c) {
    EXPECT_FALSE(of_class(findings, static_cast<FindingClass>(c)).empty()) << c;
  }
  EXPECT_EQ(exit_code(findings, false), 0);
  EXPECT_EQ(exit_code(findings, true), 0);
  EXPECT_TRUE(contains(render_text(findings, false), "all ok"));
}

// --- 1: plugin --------------------------------------------------------------

TEST(DoctorPlugin, SudoersInUseSaysHowToSwitch) {
  auto f = healthy();
  f.sudo_conf.text = "Plugin sudoers_policy sudoers.so\n";
  const auto findings = diagnose(f);
  const auto p = the(findings, Severity::kProblem, "sudo.conf");
  EXPECT_EQ(p.cls, FindingClass::kPlugin);
  EXPECT_TRUE(contains(p.message, "line 1 loads the policy plugin sudoers_policy")) << p.message;
  EXPECT_TRUE(contains(p.fix, "hoist-agent install-plugin")) << p.fix;
  EXPECT_EQ(exit_code(findings, false), 1);
}

TEST(DoctorPlugin, NoPolicyLineAndNoFileBothMeanSudoers) {
  auto f = healthy();
  f.sudo_conf.text = "Set disable_coredump false\n";
  EXPECT_TRUE(contains(the(diagnose(f), Severity::kProblem, "sudo.conf").message, "no policy Plugin line"));
  f.sudo_conf.file = FileFacts{};
  f.sudo_conf.text.reset();
  const auto p = the(diagnose(f), Severity::kProblem, "sudo.conf");
  EXPECT_TRUE(contains(p.message, "does not exist: sudo uses sudoers")) << p.message;
  EXPECT_EQ(exit_code(diagnose(f), false), 1);
}

TEST(DoctorPlugin, ASudoConfOthersCanWriteIsAProblemWithTheCommandsToFixIt) {
  auto f = healthy();
  f.sudo_conf.file.mode = 0666;
  const auto p = the(diagnose(f), Severity::kProblem, "sudo.conf");
  EXPECT_TRUE(contains(p.message, "writable by group or others (mode 0666)")) << p.message;
  EXPECT_EQ(p.fix, "chown root:root /etc/sudo.conf; chmod 0644 /etc/sudo.conf");
  f.sudo_conf.file.mode = 0644;
  f.sudo_conf.file.uid = 1000;
  EXPECT_TRUE(contains(the(diagnose(f), Severity::kProblem, "sudo.conf").message, "owned by uid 1000"));
}

TEST(DoctorPlugin, ALinkedSudoConfIsNotFollowed) {
  auto f = healthy();
  f.sudo_conf.file.symlink = true;
  f.sudo_conf.file.regular = false;
  f.sudo_conf.text.reset();
  EXPECT_TRUE(contains(the(diagnose(f), Severity::kProblem, "sudo.conf").message, "symbolic link"));
}

TEST(DoctorPlugin, AnUnreadableSudoConfNamesTheLine) {
  auto f = healthy();
  f.sudo_conf.text = std::string(kHoistLine) + "Plugin hoist_policy /x.so\n";
  const auto p = the(diagnose(f), Severity::kProblem, "sudo.conf");
  EXPECT_TRUE(contains(p.message, "line")) << p.message;
  EXPECT_EQ(exit_code(diagnose(f), false), 1);
}

TEST(DoctorPlugin, TheSharedObjectMissingWritableOrUnderAnOpenDirectory) {
  auto f = healthy();
  f.plugin->file = FileFacts{};
  f.plugin->version.reset();
  auto p = the(diagnose(f), Severity::kProblem, "plugin");
  EXPECT_TRUE(contains(p.message, "does not exist")) << p.message;
  EXPECT_EQ(exit_code(diagnose(f), false), 1);

  f = healthy();
  f.plugin->file.mode = 0664;
  p = the(diagnose(f), Severity::kProblem, "plugin");
  EXPECT_TRUE(contains(p.message, "can become root")) << p.message;
  EXPECT_TRUE(contains(p.fix, "chmod 0644 /usr/lib/hoist/hoist_sudo.so")) << p.fix;

  f = healthy();
  f.plugin->file.directory_chain_trusted = false;
  p = the(diagnose(f), Severity::kProblem, "plugin");
  EXPECT_TRUE(contains(p.message, "swap the plugin")) << p.message;
}

TEST(DoctorPlugin, OptionsThePluginRefuses) {
  auto f = healthy();
  f.sudo_conf.text = "Plugin hoist_policy /usr/lib/hoist/hoist_sudo.so agent_sockt=/run/hoist/agent.sock\n";
  const auto p = the(diagnose(f), Severity::kProblem, "plugin options");
  EXPECT_TRUE(contains(p.message, "agent_sockt")) << p.message;
  EXPECT_TRUE(contains(p.message, "denies every command but root's")) << p.message;
  EXPECT_EQ(exit_code(diagnose(f), false), 1);
}

TEST(DoctorPlugin, TheAgentSocketThePluginNamesIsNotTheAgents) {
  auto f = healthy();
  f.options.socket = "/run/other/agent.sock";
  f.socket.path = f.options.socket;
  const auto p = the(diagnose(f), Severity::kProblem, "plugin options");
  EXPECT_TRUE(contains(p.message, "asks the agent at /run/hoist/agent.sock")) << p.message;
  EXPECT_TRUE(contains(p.fix, "install-plugin --agent-socket /run/other/agent.sock")) << p.fix;
}

// --- 2: agent ---------------------------------------------------------------

TEST(DoctorAgent, NotRunningStaleWrongPathHungAndStrangerAreToldApart) {
  struct Case {
    const char* name;
    void (*change)(DoctorFacts&);
    const char* says;
  };
  const Case cases[] = {
      {"no socket",
       [](DoctorFacts& f) {
         f.socket.file = FileFacts{};
         f.socket.probe = SocketProbe::kNotTried;
       },
       "hoist-agent is not running"},
      {"no directory",
       [](DoctorFacts& f) {
         f.socket.file = FileFacts{};
         f.socket.parent_exists = false;
         f.socket.probe = SocketProbe::kNotTried;
       },
       "its directory does not exist either"},
      {"stale", [](DoctorFacts& f) { f.socket.probe = SocketProbe::kRefused; }, "nothing listens"},
      {"hung",
       [](DoctorFacts& f) {
         f.socket.probe = SocketProbe::kNoReply;
         f.socket.detail = "no reply within 5 s";
       },
       "did not answer: no reply within 5 s"},
      {"garbled",
       [](DoctorFacts& f) {
         f.socket.probe = SocketProbe::kGarbled;
         f.socket.detail = "a frame";
       },
       "not in the agent's protocol"},
      {"a regular file",
       [](DoctorFacts& f) {
         f.socket.file.socket = false;
         f.socket.file.regular = true;
         f.socket.probe = SocketProbe::kNotTried;
       },
       "is a file, not a socket"},
      {"a link",
       [](DoctorFacts& f) {
         f.socket.file.symlink = true;
         f.socket.file.socket = false;
         f.socket.probe = SocketProbe::kNotTried;
       },
       "symbolic link"},
      {"an open directory",
       [](DoctorFacts& f) {
         f.socket.file.directory_chain_trusted = false;
         f.socket.probe = SocketProbe::kNotTried;
       },
       "answer sudo in the agent's place"},
      {"not root",
       [](DoctorFacts& f) {
         f.socket.peer_uid = 1000;
         f.socket.probe = SocketProbe::kGarbled;
       },
       "runs as uid 1000, not root"},
  };
  for (const auto& c : cases) {
    auto f = healthy();
    c.change(f);
    const auto findings = diagnose(f);
    const auto p = the(findings, Severity::kProblem, "agent");
    EXPECT_EQ(p.cls, FindingClass::kAgent) << c.name;
    EXPECT_TRUE(contains(p.message, c.says)) << c.name << ": " << p.message;
    EXPECT_FALSE(p.fix.empty()) << c.name;
    EXPECT_EQ(exit_code(findings, false), 2) << c.name;
  }
}

TEST(DoctorAgent, AWrongPathIsNotCalledAStoppedAgent) {
  auto f = healthy();
  f.options.socket = "/run/hoist/other.sock";
  f.socket.path = f.options.socket;
  f.socket.file = FileFacts{};
  f.socket.probe = SocketProbe::kNotTried;
  SocketFacts real = healthy().socket;  // the plugin's path answers
  f.plugin_socket = real;
  const auto findings = diagnose(f);
  const auto p = the(findings, Severity::kProblem, "agent");
  EXPECT_TRUE(contains(p.message, "a wrong path, not a stopped agent")) << p.message;
  EXPECT_EQ(exit_code(findings, false), 1);  // the plugin's line names another socket: class 1 is lower
}

TEST(DoctorAgent, AnErrorReplyIsAWarning) {
  auto f = healthy();
  f.socket.probe = SocketProbe::kErrorReply;
  f.socket.detail = "too many connections\x1b[31m";
  const auto findings = diagnose(f);
  const auto w = the(findings, Severity::kWarning, "agent");
  EXPECT_TRUE(contains(w.message, "too many connections\\x1b[31m")) << w.message;  // no escape reaches the terminal
  EXPECT_EQ(exit_code(findings, false), 0);
  EXPECT_EQ(exit_code(findings, true), 2);
}

// --- 3: enrolment -----------------------------------------------------------

TEST(DoctorEnrolment, NotEnrolledSaysHowToEnrol) {
  auto f = healthy();
  f.state.enrolment.reset();
  f.state.policy.reset();
  f.server = ServerFacts{};
  const auto findings = diagnose(f);
  const auto p = the(findings, Severity::kProblem, "enrolment");
  EXPECT_TRUE(contains(p.message, "not enrolled")) << p.message;
  EXPECT_TRUE(contains(p.fix, "hoist-agent enroll --server")) << p.fix;
  EXPECT_EQ(exit_code(findings, false), 3);
  // Nothing about the clock or a policy is claimed without an enrolment.
  for (const auto& x : of_class(findings, FindingClass::kClock)) ADD_FAILURE() << x.message;
}

TEST(DoctorEnrolment, AStateThatCannotBeReadIsQuoted) {
  auto f = healthy();
  f.state.error = "/var/lib/hoist-agent is writable by group or others: chmod 0700 /var/lib/hoist-agent";
  f.state.enrolment.reset();
  const auto p = the(diagnose(f), Severity::kProblem, "enrolment");
  EXPECT_TRUE(contains(p.message, "chmod 0700")) << p.message;
}

TEST(DoctorEnrolment, HoistdUnreachableIsAServerProblemNotAClockOne) {
  auto f = healthy();
  f.server.status = 0;
  f.server.transport_error = "connect to 127.0.0.1:8443: Connection refused";
  f.server.server_time.reset();
  f.server.policy = PolicyAtServer::kNotAsked;
  const auto findings = diagnose(f);
  const auto p = the(findings, Severity::kProblem, "hoistd");
  EXPECT_TRUE(contains(p.message, "cannot be reached: connect to")) << p.message;
  EXPECT_EQ(exit_code(findings, false), 3);
  EXPECT_EQ(the(findings, Severity::kNote, "clock").message, "not compared: hoistd did not answer (see hoistd above)");
  // A recent policy is a note then; an old one a warning.
  EXPECT_TRUE(contains(the(findings, Severity::kNote, "policy").message, "not verified"));
  f.now = f.state.policy->fetched_at + std::chrono::hours(25);
  EXPECT_TRUE(contains(the(diagnose(f), Severity::kWarning, "policy").message, "1d1h ago"));
}

TEST(DoctorEnrolment, SeveralServersAreListedAndTheOneThatAnsweredNamed) {
  auto f = healthy();
  f.state.enrolment->fallback_server_urls = {"https://hoistd-b.example:8443", "https://hoistd-c.example:8443"};
  f.server.answered_by = "https://hoistd-b.example:8443";
  const auto findings = diagnose(f);
  const auto enrolment = the(findings, Severity::kOk, "enrolment");
  EXPECT_TRUE(
      contains(enrolment.message,
               "with https://hoistd.example:8443, https://hoistd-b.example:8443, https://hoistd-c.example:8443"))
      << enrolment.message;
  const auto hoistd = the(findings, Severity::kOk, "hoistd");
  EXPECT_TRUE(contains(hoistd.message, "hoistd at https://hoistd-b.example:8443 accepts")) << hoistd.message;

  f.server.transport_error = "no hoistd answered: connect to a refused; connect to b refused";
  const auto down = diagnose(f);
  EXPECT_TRUE(contains(the(down, Severity::kProblem, "hoistd").message, "https://hoistd-c.example:8443"));
}

TEST(DoctorEnrolment, ARevokedCredential) {
  auto f = healthy();
  f.server.status = 401;
  f.server.error = "the endpoint credential is not valid";
  const auto findings = diagnose(f);
  const auto p = the(findings, Severity::kProblem, "hoistd");
  EXPECT_TRUE(contains(p.message, "revoked")) << p.message;
  EXPECT_TRUE(contains(p.fix, "hoist-agent enroll")) << p.fix;
  EXPECT_EQ(exit_code(findings, false), 3);
}

// --- 4: clock and policy ----------------------------------------------------

TEST(DoctorClock, SkewWarnsThenFailsEitherWay) {
  struct Case {
    int server_minus_local_s;
    Severity severity;
    const char* says;
  };
  const Case cases[] = {
      {0, Severity::kOk, "within"},
      {20, Severity::kOk, "within"},
      {-45, Severity::kWarning, "45s ahead of"},
      {90, Severity::kWarning, "1m30s behind"},
      {-600, Severity::kProblem, "10m ahead of"},
      {3600, Severity::kProblem, "1h behind"},
  };
  for (const auto& c : cases) {
    auto f = healthy();
    f.server.server_time = f.now + seconds(c.server_minus_local_s);
    const auto findings = diagnose(f);
    const auto clock = of_class(findings, FindingClass::kClock);
    ASSERT_FALSE(clock.empty());
    EXPECT_EQ(clock.front().severity, c.severity) << c.server_minus_local_s << ": " << clock.front().message;
    EXPECT_TRUE(contains(clock.front().message, c.says)) << c.server_minus_local_s << ": " << clock.front().message;
    const int want = c.severity == Severity::kProblem ? 4 : 0;
    EXPECT_EQ(exit_code(findings, false), want) << c.server_minus_local_s;
    if (c.severity != Severity::kOk) {
      EXPECT_TRUE(contains(clock.front().fix, "timedatectl"));
    }
  }
}

TEST(DoctorClock, ASlowRoundTripIsNotTakenForSkew) {
  auto f = healthy();
  // 50 s on the wire: hoistd's time is anywhere within it.
  f.server.received = f.server.sent + seconds(50);
  f.server.server_time = f.now + seconds(45);
  EXPECT_EQ(of_class(diagnose(f), FindingClass::kClock).front().severity, Severity::kOk);
}

TEST(DoctorPolicy, NoneYetIsAProblemAnotherAtHoistdAWarning) {
  auto f = healthy();
  f.state.policy.reset();
  auto findings = diagnose(f);
  EXPECT_TRUE(contains(the(findings, Severity::kProblem, "policy").fix, "hoist policy assign"));
  EXPECT_EQ(exit_code(findings, false), 4);

  f = healthy();
  f.state.policy->documents = 0;
  findings = diagnose(f);
  EXPECT_TRUE(contains(the(findings, Severity::kProblem, "policy").message, "no policy (none is assigned"));
  EXPECT_EQ(exit_code(findings, false), 4);

  f = healthy();
  f.server.policy = PolicyAtServer::kDifferent;
  findings = diagnose(f);
  EXPECT_TRUE(contains(the(findings, Severity::kWarning, "policy").fix, "journalctl -u hoist-agent"));
  EXPECT_EQ(exit_code(findings, false), 0);
  EXPECT_EQ(exit_code(findings, true), 4);
}

// --- 5: break-glass ---------------------------------------------------------

TEST(DoctorBreakGlass, NoneConfiguredIsAWarningWithTheDocumentedWay) {
  auto f = healthy();
  f.sudo_conf.text = "Plugin hoist_policy /usr/lib/hoist/hoist_sudo.so agent_socket=/run/hoist/agent.sock\n";
  f.break_glass.reset();
  const auto findings = diagnose(f);
  const auto w = the(findings, Severity::kWarning, "break-glass");
  EXPECT_TRUE(contains(w.message, "nobody but root can elevate")) << w.message;
  EXPECT_TRUE(contains(w.fix, "--break-glass-file /etc/hoist/break-glass")) << w.fix;
  EXPECT_EQ(exit_code(findings, false), 0);
  EXPECT_EQ(exit_code(findings, true), 5);
}

TEST(DoctorBreakGlass, TheFileMustBeRootsPlainAndUnderRootsDirectories) {
  struct Case {
    const char* name;
    void (*change)(BreakGlassFacts&);
    const char* says;
  };
  const Case cases[] = {
      {"missing",
       [](BreakGlassFacts& b) {
         b.file = FileFacts{};
         b.text.reset();
       },
       "does not exist"},
      {"a link",
       [](BreakGlassFacts& b) {
         b.file.symlink = true;
         b.file.regular = false;
         b.text.reset();
       },
       "symbolic link"},
      {"writable",
       [](BreakGlassFacts& b) {
         b.file.mode = 0646;
         b.text.reset();
       },
       "writable by group or others (mode 0646)"},
      {"a user's",
       [](BreakGlassFacts& b) {
         b.file.uid = 1000;
         b.text.reset();
       },
       "owned by uid 1000"},
      {"open directory",
       [](BreakGlassFacts& b) {
         b.file.directory_chain_trusted = false;
         b.text.reset();
       },
       "a directory above"},
      {"bad line", [](BreakGlassFacts& b) { b.text = "ops\nwheel emergency\n"; }, "line 2 is not a group name"},
      {"no group", [](BreakGlassFacts& b) { b.text = "# nobody\n"; }, "lists no group"},
      {"empty groups",
       [](BreakGlassFacts& b) {
         b.groups = {GroupFacts{"ops", true, 0}};
       },
       "no group in"},
  };
  for (const auto& c : cases) {
    auto f = healthy();
    c.change(*f.break_glass);
    const auto findings = diagnose(f);
    std::vector<Finding> problems;
    for (const auto& x : findings) {
      if (x.severity == Severity::kProblem) problems.push_back(x);
    }
    ASSERT_EQ(problems.size(), 1u) << c.name << "\n" << render_text(findings, false);
    EXPECT_EQ(problems[0].cls, FindingClass::kBreakGlass) << c.name;
    EXPECT_TRUE(contains(problems[0].message, c.says)) << c.name << ": " << problems[0].message;
    EXPECT_FALSE(problems[0].fix.empty()) << c.name;
    EXPECT_EQ(exit_code(findings, false), 5) << c.name;
  }
}

TEST(DoctorBreakGlass, AMissingOrEmptyGroupWarnsWhileAnotherStillWorks) {
  auto f = healthy();
  f.break_glass->text = "ops\nghosts\nempty\n";
  f.break_glass->groups = {GroupFacts{"ops", true, 1}, GroupFacts{"ghosts", false, 0}, GroupFacts{"empty", true, 0}};
  const auto findings = diagnose(f);
  std::vector<std::string> warnings;
  for (const auto& x : of_class(findings, FindingClass::kBreakGlass)) {
    if (x.severity == Severity::kWarning) warnings.push_back(x.message);
  }
  ASSERT_EQ(warnings.size(), 2u) << render_text(findings, false);
  EXPECT_TRUE(contains(warnings[0], "ghosts, which does not exist"));
  EXPECT_TRUE(contains(warnings[1], "empty has no members"));
  EXPECT_TRUE(contains(the(findings, Severity::kOk, "break-glass").message, "3 group(s), 1 with members"));
  EXPECT_EQ(exit_code(findings, false), 0);
  EXPECT_EQ(exit_code(findings, true), 5);
}

TEST(DoctorBreakGlass, ASpoolTheAgentDoesNotReadWarns) {
  auto f = healthy();
  f.sudo_conf.text = std::string(
      "Plugin hoist_policy /usr/lib/hoist/hoist_sudo.so agent_socket=/run/hoist/agent.sock "
      "break_glass_file=/etc/hoist/break-glass spool_dir=/var/spool/elsewhere\n");
  const auto w = the(diagnose(f), Severity::kWarning, "break-glass");
  EXPECT_TRUE(contains(w.message, "never reach the audit trail")) << w.message;
}

// --- 6: packages ------------------------------------------------------------

TEST(DoctorPackages, SudosVersionAgainstWhatThePluginSupports) {
  struct Case {
    const char* version;
    Severity severity;
  };
  const Case cases[] = {{"1.9.13p3-1+deb12u4", Severity::kOk},
                        {"1.9.16p2-1", Severity::kOk},
                        {"1.9.5p2-3+deb11u1", Severity::kWarning},
                        {"1.8.27-1+deb10u3", Severity::kProblem},
                        {"2.0.0-1", Severity::kProblem}};
  for (const auto& c : cases) {
    auto f = healthy();
    f.packages.sudo_version = c.version;
    const auto findings = diagnose(f);
    const auto sudo =
        std::find_if(findings.begin(), findings.end(), [](const Finding& x) { return x.check == "sudo"; });
    ASSERT_NE(sudo, findings.end());
    EXPECT_EQ(sudo->severity, c.severity) << c.version << ": " << sudo->message;
    EXPECT_EQ(exit_code(findings, false), c.severity == Severity::kProblem ? 6 : 0) << c.version;
  }
}

TEST(DoctorPackages, AgentAndPluginFromDifferentReleasesIsAProblem) {
  auto f = healthy();
  f.plugin->version = "0.0.9";
  const auto findings = diagnose(f);
  const auto p = the(findings, Severity::kProblem, "versions");
  EXPECT_TRUE(contains(p.message, "hoist_sudo.so is version 0.0.9 but hoist-agent " + std::string(kAgentVersion)));
  EXPECT_EQ(exit_code(findings, false), 6);
}

TEST(DoctorPackages, RunningFromABuildTreeIsOnlyANote) {
  auto f = healthy();
  f.packages.agent_version.reset();
  f.packages.running_binary = "/home/dev/hoist/build/default/src/agent/hoist-agent";
  const auto findings = diagnose(f);
  EXPECT_TRUE(contains(the(findings, Severity::kNote, "hoist-agent").message, "not installed from a package"));
  EXPECT_EQ(exit_code(findings, true), 0);
}

// --- several ----------------------------------------------------------------

TEST(Doctor, TheLowestClassWithAProblemDecides) {
  auto f = healthy();
  f.packages.sudo_version = "1.8.0";       // 6
  f.break_glass->file.mode = 0666;         // 5
  f.socket.probe = SocketProbe::kRefused;  // 2
  const auto findings = diagnose(f);
  EXPECT_EQ(exit_code(findings, false), 2);
  const auto text = render_text(findings, false);
  EXPECT_TRUE(contains(text, "3 problem(s), 0 warning(s); exit status 2 (agent)")) << text;
  // The JSON carries the same.
  const auto json = boost::json::parse(render_json(findings, false)).as_object();
  EXPECT_EQ(json.at("exit_code").as_int64(), 2);
  std::size_t problems = 0;
  for (const auto& item : json.at("findings").as_array()) {
    if (item.at("severity").as_string() == "problem") ++problems;
  }
  EXPECT_EQ(problems, 3u);
}

TEST(Doctor, TheCredentialIsNeverInTheReport) {
  // Facts carry no credential at all: only whether one is present.
  auto f = healthy();
  const auto text = render_text(diagnose(f), false) + render_json(diagnose(f), false);
  EXPECT_FALSE(contains(text, "hoist_agent_")) << text;
}

// --- gathering --------------------------------------------------------------

class FakeProbe final : public DoctorProbe {
 public:
  explicit FakeProbe(DoctorFacts facts) : facts_(std::move(facts)) {}
  SudoConfFacts sudo_conf(const std::string& path) override {
    calls.push_back("sudo_conf " + path);
    return facts_.sudo_conf;
  }
  PluginFileFacts plugin_file(const std::string& path) override {
    calls.push_back("plugin_file " + path);
    return *facts_.plugin;
  }
  SocketFacts agent_socket(const std::string& path) override {
    calls.push_back("agent_socket " + path);
    return facts_.socket;
  }
  StateFacts state(const std::string& dir) override {
    calls.push_back("state " + dir);
    return facts_.state;
  }
  ServerFacts server(const std::string& etag) override {
    calls.push_back("server " + etag);
    return facts_.server;
  }
  BreakGlassFacts break_glass(const std::string& path) override {
    calls.push_back("break_glass " + path);
    return *facts_.break_glass;
  }
  PackageFacts packages() override {
    calls.push_back("packages");
    return facts_.packages;
  }
  TimePoint now() override { return facts_.now; }
  std::vector<std::string> calls;

 private:
  DoctorFacts facts_;
};

TEST(DoctorGather, AsksWhatTheFactsBeforeItName) {
  auto facts = healthy();
  facts.sudo_conf.text =
      "Plugin hoist_policy hoist_sudo.so agent_socket=/run/x/agent.sock "
      "break_glass_file=/etc/hoist/bg\n";
  FakeProbe probe(facts);
  DoctorOptions options;
  const auto gathered = gather(options, probe);
  const std::vector<std::string> want = {"sudo_conf /etc/sudo.conf",
                                         "plugin_file /usr/libexec/sudo/hoist_sudo.so",  // sudo's plugin_dir
                                         "agent_socket /run/hoist/agent.sock",
                                         "agent_socket /run/x/agent.sock",  // the plugin's, another path
                                         "state /var/lib/hoist-agent",
                                         "server \"p-7\"",
                                         "break_glass /etc/hoist/bg",
                                         "packages"};
  EXPECT_EQ(probe.calls, want);
  EXPECT_TRUE(gathered.plugin_socket.has_value());
}

TEST(DoctorGather, LooksForThePluginWhereSudoConfSaysSudoLooks) {
  auto facts = healthy();
  facts.sudo_conf.text = "Path plugin_dir /opt/sudo/plugins/\nPlugin hoist_policy hoist_sudo.so\n";
  FakeProbe probe(facts);
  (void)gather(DoctorOptions{}, probe);
  ASSERT_GE(probe.calls.size(), 2U);
  EXPECT_EQ(probe.calls[1], "plugin_file /opt/sudo/plugins/hoist_sudo.so");
}

TEST(DoctorGather, APluginDirWithoutADirectoryIsAProblemAndNothingIsOpened) {
  auto facts = healthy();
  facts.sudo_conf.text = "Path plugin_dir\nPlugin hoist_policy hoist_sudo.so\n";
  FakeProbe probe(facts);
  const auto gathered = gather(DoctorOptions{}, probe);
  for (const auto& call : probe.calls) EXPECT_FALSE(call.starts_with("plugin_file")) << call;
  const auto findings = diagnose(gathered);
  bool found = false;
  for (const auto& f : findings) {
    if (f.check == "plugin" && f.severity == Severity::kProblem) {
      found = true;
      EXPECT_TRUE(contains(f.message, "Path plugin_dir")) << f.message;
    }
  }
  EXPECT_TRUE(found) << render_text(findings, false);
}

TEST(DoctorGather, NothingIsAskedOfHoistdWithoutAnEnrolmentNorOfABreakGlassFileNotNamed) {
  auto facts = healthy();
  facts.sudo_conf.text = "Plugin sudoers_policy sudoers.so\n";
  facts.state.enrolment.reset();
  FakeProbe probe(facts);
  (void)gather(DoctorOptions{}, probe);
  for (const auto& call : probe.calls) {
    EXPECT_FALSE(call.starts_with("server")) << call;
    EXPECT_FALSE(call.starts_with("break_glass")) << call;
    EXPECT_FALSE(call.starts_with("plugin_file")) << call;
  }
}

// --- helpers ----------------------------------------------------------------

TEST(DoctorHelpers, Printable) {
  EXPECT_EQ(printable("ok\x1b]0;pwned\x07 text\n"), "ok\\x1b]0;pwned\\x07 text\\x0a");
  // C1 controls and bidi overrides too (from the attack pass).
  EXPECT_EQ(printable("a\xc2\x9b"
                      "31mb"),
            "a\\u{009B}31mb");
  EXPECT_EQ(printable("x\xe2\x80\xaey"), "x\\u{202E}y");
  EXPECT_EQ(printable(std::string(500, 'a'), 10), std::string(10, 'a') + "...");
}

TEST(DoctorHelpers, PluginVersionInBytes) {
  std::string so(
      "\x7f"
      "ELF\0\0junk",
      9);
  so += "Hoist policy plugin version 0.1.0";
  so.push_back('\0');
  EXPECT_EQ(plugin_version_in(so), "0.1.0");
  EXPECT_EQ(plugin_version_in("Sudoers policy plugin version 1.9.13p3"), std::nullopt);
  EXPECT_EQ(plugin_version_in("Hoist policy plugin version \n"), std::nullopt);
}

TEST(DoctorHelpers, UpstreamNumbers) {
  EXPECT_EQ(upstream_numbers("1.9.13p3-1+deb12u4"), (std::vector<int>{1, 9, 13}));
  EXPECT_EQ(upstream_numbers("1:2.0.1-1"), (std::vector<int>{2, 0, 1}));
  EXPECT_EQ(upstream_numbers("0.1.0"), (std::vector<int>{0, 1, 0}));
  EXPECT_TRUE(upstream_numbers("garbage").empty());
}

}  // namespace
}  // namespace hoist::agent
