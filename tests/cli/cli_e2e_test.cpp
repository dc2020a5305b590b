// The real `hoist` binary against a real hoistd (tests/support/
// hoistd_process.h) over HTTPS: login, every admin command group, --json,
// exit codes, and `hoist audit verify` finding an event edited in the
// database behind hoistd's back.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/hoistd_process.h"
#include "support/webhook_receiver.h"

namespace hoist::testing {
namespace {

namespace json = boost::json;

struct CliRun {
  int status = -1;
  std::string out;
  std::string err;
  json::value doc;  // stdout parsed as JSON; null when it is not
  // Checked access: a missing key or wrong type throws (the test fails)
  // instead of reading freed memory.
  [[nodiscard]] const json::value& json() const { return doc; }
};

std::ostream& operator<<(std::ostream& os, const CliRun& r) {
  return os << "exit " << r.status << "\n--- stdout\n" << r.out << "--- stderr\n" << r.err;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A policy with one manual request rule for apt-get install.
constexpr std::string_view kPolicy = R"(version = 1

[settings]
contact = "the help desk"

[[rule]]
name = "installs"
action = "request"
path = "/usr/bin/apt-get"
args = ["install", "..."]
approval = "manual"
max_duration = "1h"
)";

class CliE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
    config_ = hoistd_.dir() + "/home/.config/hoist/cli.json";
  }

  // Runs `hoist args...` with HOME in the fixture's directory, `input` on
  // stdin, and no HOIST_* variables but those in `env`.
  CliRun hoist(const std::vector<std::string>& args, const std::string& input = "",
               const std::vector<std::pair<std::string, std::string>>& env = {}) {
    std::vector<std::string> all = {HOIST_CLI_PATH};
    all.insert(all.end(), args.begin(), args.end());
    return run(all, input, env);
  }

  // `hoist args...` on a pseudo-terminal made by script(1), `input` typed
  // into it.
  CliRun hoist_on_tty(const std::vector<std::string>& args, const std::string& input) {
    std::string command = "exec env HOIST_CLI_CONFIG=" + config_ + " " + HOIST_CLI_PATH;
    for (const auto& a : args) {
      command += " '" + a + "'";  // the tests' arguments have no quotes
    }
    // Typed only once the prompt is there: like getpass(3), hoist discards
    // what was typed before it turned echo off.
    const std::string base = hoistd_.dir() + "/tty";
    {
      std::ofstream in(base + ".in", std::ios::binary | std::ios::trunc);
      in << input;
    }
    const std::string pipeline = "for i in $(seq 200); do grep -q 'Password for' " + base +
                                 ".out 2>/dev/null && break; sleep 0.05; done; cat " + base +
                                 ".in) | /usr/bin/script -q -e -c \"" + command + "\" /dev/null > " + base + ".out";
    auto r = run({"/bin/sh", "-c", "(" + pipeline}, "", {});
    r.out = slurp(base + ".out");
    return r;
  }

  CliRun run(std::vector<std::string> all, const std::string& input,
             const std::vector<std::pair<std::string, std::string>>& env) {
    const std::string base = hoistd_.dir() + "/run";
    {
      std::ofstream in(base + ".in", std::ios::binary | std::ios::trunc);
      in << input;
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int in = ::open((base + ".in").c_str(), O_RDONLY);
      const int out = ::open((base + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      const int err = ::open((base + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (in < 0 || out < 0 || err < 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) {
        ::_exit(127);
      }
      // No terminal: login must not wait for one.
      ::setsid();
      std::vector<std::string> envs = {"HOME=" + hoistd_.dir() + "/home", "PATH=/usr/bin:/bin", "USER=admin"};
      for (const auto& [k, v] : env) {
        envs.push_back(k + "=" + v);
      }
      std::vector<char*> envp;
      for (auto& e : envs) {
        envp.push_back(e.data());
      }
      envp.push_back(nullptr);
      std::vector<char*> argv;
      for (auto& a : all) {
        argv.push_back(a.data());
      }
      argv.push_back(nullptr);
      ::execve(all[0].c_str(), argv.data(), envp.data());
      ::_exit(127);
    }
    CliRun r;
    int status = 0;
    if (pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
      r.status = WEXITSTATUS(status);
    }
    r.out = slurp(base + ".out");
    r.err = slurp(base + ".err");
    json::error_code ec;
    r.doc = json::parse(r.out, ec);
    if (ec) {
      r.doc = nullptr;
    }
    return r;
  }

  CliRun login(const std::string& user = "admin", const std::string& password = std::string(kHoistdAdminPassword)) {
    return hoist(
        {"login", hoistd_.url(), "--fingerprint", hoistd_.ca_fingerprint(), "--user", user, "--password-stdin"},
        password + "\n");
  }

  std::string write_file(const std::string& name, std::string_view text) {
    const std::string path = hoistd_.dir() + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    return path;
  }

  // An agent submits a request that waits for approval; returns its id.
  std::string submit(const AgentCredential& agent, const std::string& why = "install vim") {
    const json::object body{{"user", "alice"},
                            {"groups", json::array{"staff"}},
                            {"justification", why},
                            {"duration_s", 1800},
                            {"command", json::object{{"path", "/usr/bin/apt-get"},
                                                     {"argv", json::array{"apt-get", "install", "vim"}},
                                                     {"sha256", std::string(64, 'a')},
                                                     {"trusted_path", true}}}};
    auto reply = hoistd_.call_json("POST", "/api/v1/agent/requests", body, agent.headers());
    EXPECT_EQ(reply.status, 201) << reply;
    EXPECT_EQ(reply.str("/decision"), "request") << reply;
    return reply.str("/request/id");
  }

  HoistdProcess hoistd_;
  std::string config_;
};

TEST_F(CliE2e, AnAdminRunsTheWholeLifecycleFromTheCli) {
  auto r = login();
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_NE(r.out.find("as admin (admin)"), std::string::npos) << r;
  struct stat st {};
  ASSERT_EQ(::stat(config_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  r = hoist({"whoami"});
  EXPECT_EQ(r.status, 0) << r;
  EXPECT_EQ(r.out, "admin (admin)\n");

  // Policy: apply, unchanged apply, edit, diff, history, assign.
  const std::string file = write_file("web.toml", kPolicy);
  r = hoist({"policy", "apply", file, "--comment", "first"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_NE(r.out.find("Policy web is now version 1."), std::string::npos) << r;
  r = hoist({"policy", "apply", file});
  EXPECT_EQ(r.status, 0) << r;
  EXPECT_NE(r.out.find("nothing to do"), std::string::npos) << r;
  // Errors name the file given, one per line.
  const std::string broken = write_file("broken.toml", "[[rules]]\nname = 5\n");
  r = hoist({"policy", "apply", broken, "--name", "web"});
  EXPECT_EQ(r.status, 65) << r;  // the data is wrong
  EXPECT_NE(r.err.find("\n" + broken + ":1:1: "), std::string::npos) << r;
  EXPECT_EQ(r.err.find("web.toml"), std::string::npos) << r;
  EXPECT_EQ(r.err.find("\\x0a"), std::string::npos) << r;
  write_file("web.toml", std::string(kPolicy) + "# reviewed\n");
  r = hoist({"policy", "diff", "web", file, "--exit-code"});
  EXPECT_EQ(r.status, 1) << r;
  EXPECT_NE(r.out.find("+# reviewed"), std::string::npos) << r;
  r = hoist({"policy", "apply", file, "--comment", "second"});
  ASSERT_EQ(r.status, 0) << r;
  r = hoist({"policy", "diff", "web", file, "--exit-code"});
  EXPECT_EQ(r.status, 0) << r;
  r = hoist({"policy", "history", "web"});
  EXPECT_EQ(r.status, 0) << r;
  EXPECT_NE(r.out.find("second"), std::string::npos) << r;
  r = hoist({"policy", "show", "web", "--version", "1"});
  EXPECT_EQ(r.status, 0) << r;
  EXPECT_EQ(r.out, kPolicy);
  r = hoist({"policy", "assign", "web", "web"});
  EXPECT_EQ(r.status, 0) << r;
  r = hoist({"--json", "policy", "list"});
  EXPECT_EQ(r.status, 0) << r;
  const auto policies = r.json();
  ASSERT_TRUE(policies.is_object()) << r;
  EXPECT_EQ(json::serialize(policies.at("policies").at(0).at("labels")), R"(["web"])") << r;
  EXPECT_EQ(policies.at("policies").at(0).at("current_version").to_number<int>(), 2);
  // apply --assign: the file (unchanged here), then its endpoint groups.
  r = hoist({"policy", "apply", file, "--assign", "web", "--assign", "lab"});
  EXPECT_EQ(r.status, 0) << r;
  EXPECT_NE(r.out.find("Policy web applies to endpoints labelled web, lab."), std::string::npos) << r;
  r = hoist({"--json", "policy", "list"});
  EXPECT_EQ(json::serialize(r.json().at("policies").at(0).at("labels")), R"(["web","lab"])") << r;
  r = hoist({"policy", "apply", broken, "--name", "web", "--assign", "elsewhere"});
  EXPECT_EQ(r.status, 65) << r;
  r = hoist({"--json", "policy", "list"});
  EXPECT_EQ(json::serialize(r.json().at("policies").at(0).at("labels")), R"(["web","lab"])")
      << "a refused file assigns nothing: " << r;
  r = hoist({"policy", "assign", "web", "web"});
  EXPECT_EQ(r.status, 0) << r;

  // Enrolment token from the CLI, used by an agent.
  r = hoist({"enrol-token", "create", "--label", "web", "--uses", "1", "--expires", "1h"});
  ASSERT_EQ(r.status, 0) << r;
  const std::string enrol_token = r.out.substr(0, r.out.find('\n'));
  EXPECT_EQ(enrol_token.rfind("hoist_enrol_", 0), 0U) << r;
  auto enrolled =
      hoistd_.call_json("POST", "/api/v1/agent/enrol",
                        json::object{{"token", enrol_token}, {"hostname", "web-1"}, {"agent_version", "0.1.0"}});
  ASSERT_EQ(enrolled.status, 201) << enrolled;
  AgentCredential agent{enrolled.str("/id"), enrolled.str("/credential"), "web-1", {"web"}};
  r = hoist({"endpoints", "list"});
  EXPECT_EQ(r.status, 0) << r;
  EXPECT_NE(r.out.find("web-1"), std::string::npos) << r;

  // Requests: list, show, approve for less, approve again (409), deny another.
  const std::string id = submit(agent);
  const std::string other = submit(agent, "evil \x1b]0;pwned\x07 title");
  r = hoist({"requests", "list", "--state", "pending"});
  EXPECT_EQ(r.status, 0) << r;
  EXPECT_NE(r.out.find(id), std::string::npos) << r;
  EXPECT_NE(r.out.find("apt-get install vim"), std::string::npos) << r;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "terminal escapes from a justification reach the terminal";
  EXPECT_NE(r.out.find("\\x1b]0;pwned"), std::string::npos) << r;
  r = hoist({"requests", "show", id});
  EXPECT_EQ(r.status, 0) << r;
  EXPECT_NE(r.out.find("install vim"), std::string::npos) << r;
  r = hoist({"requests", "approve", id, "--duration", "15m", "--comment", "ok"});
  ASSERT_EQ(r.status, 0) << r;
  r = hoist({"requests", "approve", id});
  EXPECT_EQ(r.status, 75) << r;
  r = hoist({"requests", "deny", other, "--comment", "no"});
  EXPECT_EQ(r.status, 0) << r;
  r = hoist({"--json", "grants", "list"});
  ASSERT_EQ(r.status, 0) << r;
  const auto grants = r.json();
  ASSERT_TRUE(grants.is_object()) << r;
  ASSERT_EQ(grants.at("grants").as_array().size(), 1U) << r;
  EXPECT_EQ(grants.at("grants").at(0).at("id").as_string(), id);
  EXPECT_LE(grants.at("grants").at(0).at("time_left_s").to_number<int>(), 15 * 60);
  r = hoist({"grants", "revoke", id, "--reason", "done"});
  EXPECT_EQ(r.status, 0) << r;
  r = hoist({"--json", "requests", "show", id});
  EXPECT_EQ(r.json().at("state").as_string(), "revoked") << r;

  // Audit: query, export, verify, verify against the head it printed.
  r = hoist({"audit", "query", "--action", "request.approved", "--json"});
  ASSERT_EQ(r.status, 0) << r;
  ASSERT_EQ(r.json().at("events").as_array().size(), 1U) << r;
  EXPECT_EQ(r.json().at("events").at(0).at("target").as_string(), id);
  const std::string csv = hoistd_.dir() + "/report.csv";
  r = hoist({"audit", "export", "--since", "1h", "-o", csv});
  EXPECT_EQ(r.status, 0) << r;
  const std::string report = slurp(csv);
  EXPECT_EQ(report.rfind("seq,time,actor,action,target,host,details,prev_hash,hash\r\n", 0), 0U) << report;
  EXPECT_NE(report.find("grant.revoked"), std::string::npos);
  r = hoist({"audit", "verify"});
  ASSERT_EQ(r.status, 0) << r;
  const auto head_at = r.out.find("Head: ");
  ASSERT_NE(head_at, std::string::npos) << r;
  const std::string head = r.out.substr(head_at + 6, r.out.find('\n', head_at) - head_at - 6);
  r = hoist({"audit", "verify", "--expect-head", head});
  EXPECT_EQ(r.status, 0) << r;

  // Tokens for scripts: create, use from the environment, revoke.
  r = hoist({"token", "create", "--label", "ci", "--expires", "1d"});
  ASSERT_EQ(r.status, 0) << r;
  const std::string ci_token = r.out.substr(0, r.out.find('\n'));
  const std::vector<std::pair<std::string, std::string>> env = {{"HOIST_SERVER", hoistd_.url()},
                                                                {"HOIST_TOKEN", ci_token},
                                                                {"HOIST_CA_FILE", hoistd_.ca_file()},
                                                                {"HOIST_CLI_CONFIG", "/nonexistent/cli.json"}};
  r = hoist({"whoami"}, "", env);
  EXPECT_EQ(r.status, 0) << r;
  r = hoist({"--json", "token", "list"});
  ASSERT_EQ(r.status, 0) << r;
  std::string ci_id;
  for (const auto& t : r.json().at("tokens").as_array()) {
    if (t.at("label").as_string() == "ci") {
      ci_id = std::string(t.at("id").as_string());
    }
  }
  ASSERT_FALSE(ci_id.empty()) << r;
  r = hoist({"token", "revoke", ci_id});
  EXPECT_EQ(r.status, 0) << r;
  r = hoist({"whoami"}, "", env);
  EXPECT_EQ(r.status, 67) << r;

  // Retire the endpoint: its credential stops working.
  r = hoist({"endpoints", "retire", agent.id});
  EXPECT_EQ(r.status, 0) << r;
  auto refused =
      hoistd_.call_json("POST", "/api/v1/agent/heartbeat", json::object{{"agent_version", "0.1.0"}}, agent.headers());
  EXPECT_EQ(refused.status, 401) << refused;

  // Logout revokes the saved token and forgets it.
  r = hoist({"logout"});
  EXPECT_EQ(r.status, 0) << r;
  EXPECT_NE(::access(config_.c_str(), F_OK), 0);
  r = hoist({"whoami"});
  EXPECT_EQ(r.status, 67) << r;
}

// Several hoistd URLs (replicas): a closed port first, then the live one;
// login, the saved list and HOIST_SERVER all move on to the live one. A
// list with a plain-http URL or more than 16 URLs is refused as usage.
TEST_F(CliE2e, SeveralServersMoveOnPastOneThatIsDown) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  const std::string closed = "https://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));

  auto r = hoist({"login", closed, hoistd_.url(), "--fingerprint", hoistd_.ca_fingerprint(), "--user", "admin",
                  "--password-stdin"},
                 std::string(kHoistdAdminPassword) + "\n");
  ASSERT_EQ(r.status, 0) << r;
  r = hoist({"whoami"});
  EXPECT_EQ(r.status, 0) << r;
  EXPECT_NE(r.out.find("admin"), std::string::npos) << r;

  r = hoist({"token", "create", "--label", "replicas", "--expires", "1d"});
  ASSERT_EQ(r.status, 0) << r;
  const std::string token = r.out.substr(0, r.out.find('\n'));
  r = hoist({"whoami"}, "",
            {{"HOIST_SERVER", closed + "," + hoistd_.url()},
             {"HOIST_TOKEN", token},
             {"HOIST_CA_FINGERPRINT", hoistd_.ca_fingerprint()},
             {"HOIST_CLI_CONFIG", "/nonexistent/cli.json"}});
  EXPECT_EQ(r.status, 0) << r;

  r = hoist({"login", hoistd_.url() + ",http://127.0.0.1:1", "--fingerprint", hoistd_.ca_fingerprint(), "--user",
             "admin", "--password-stdin"},
            std::string(kHoistdAdminPassword) + "\n");
  EXPECT_EQ(r.status, 64) << r;
  EXPECT_NE(r.err.find("not an https:// URL"), std::string::npos) << r;
  std::vector<std::string> args{"login"};
  for (int i = 0; i < 17; ++i) args.push_back("https://127.0.0.1:" + std::to_string(30000 + i));
  for (const std::string a : {"--fingerprint", hoistd_.ca_fingerprint().c_str(), "--password-stdin"}) {
    args.push_back(a);
  }
  r = hoist(args, std::string(kHoistdAdminPassword) + "\n");
  EXPECT_EQ(r.status, 64) << r;
  EXPECT_NE(r.err.find("at most 16"), std::string::npos) << r;
}

TEST_F(CliE2e, LoginReadsThePasswordFromTheTerminalWithoutEcho) {
  const std::string password(kHoistdAdminPassword);
  auto r = hoist_on_tty({"login", hoistd_.url(), "--fingerprint", hoistd_.ca_fingerprint(), "--user", "admin"},
                        password + "\n");
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_NE(r.out.find("Password for admin: "), std::string::npos) << r;
  EXPECT_NE(r.out.find("Logged in to"), std::string::npos) << r;
  EXPECT_EQ(r.out.find(password), std::string::npos) << "the password was echoed: " << r;
  EXPECT_EQ(hoist({"whoami"}).status, 0);
}

TEST_F(CliE2e, ExitCodesSayWhatWentWrong) {
  // Not logged in.
  auto r = hoist({"requests", "list"});
  EXPECT_EQ(r.status, 67) << r;
  EXPECT_NE(r.err.find("hoist login"), std::string::npos) << r;
  // No way to trust the server: refused before asking for a password.
  r = hoist({"login", hoistd_.url(), "--user", "admin", "--password-stdin"}, "x\n");
  EXPECT_EQ(r.status, 64) << r;
  // The wrong fingerprint: refused before the password is sent.
  r = hoist({"login", hoistd_.url(), "--fingerprint", std::string(95, 'A'), "--user", "admin", "--password-stdin"},
            std::string(kHoistdAdminPassword) + "\n");
  EXPECT_NE(r.status, 0) << r;
  EXPECT_EQ(::access(config_.c_str(), F_OK), -1);
  // ... and before one is asked for: with none on stdin, the fingerprint
  // is what it complains of.
  r = hoist({"login", hoistd_.url(), "--fingerprint", std::string(95, 'A'), "--user", "admin", "--password-stdin"}, "");
  EXPECT_NE(r.status, 0) << r;
  EXPECT_NE(r.err.find("fingerprint"), std::string::npos) << r;
  EXPECT_EQ(r.err.find("password"), std::string::npos) << r;
  // A wrong password.
  r = login("admin", "not the password");
  EXPECT_EQ(r.status, 67) << r;
  // No terminal and no --password-stdin.
  r = hoist({"login", hoistd_.url(), "--fingerprint", hoistd_.ca_fingerprint(), "--user", "admin"});
  EXPECT_EQ(r.status, 65) << r;
  EXPECT_NE(r.err.find("--password-stdin"), std::string::npos) << r;

  ASSERT_EQ(login().status, 0);
  // An approver may review but not edit policies (nor make users).
  r = hoist({"users", "create", "bob", "--role", "approver", "--password-stdin"}, "bob's long enough password\n");
  ASSERT_EQ(r.status, 0) << r;
  r = hoist({"--json", "users", "list"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_EQ(r.json().at("users").as_array().size(), 2U) << r;
  r = login("bob", "bob's long enough password");
  ASSERT_EQ(r.status, 0) << r;
  r = hoist({"policy", "apply", write_file("p.toml", kPolicy)});
  EXPECT_EQ(r.status, 77) << r;
  r = hoist({"requests", "list"});
  EXPECT_EQ(r.status, 0) << r;
  r = hoist({"users", "create", "carol", "--role", "admin"});
  EXPECT_EQ(r.status, 77) << r;
  // Objects that do not exist; bad arguments.
  r = hoist({"requests", "show", "req-nope"});
  EXPECT_EQ(r.status, 66) << r;
  r = hoist({"requests", "approve", "req-nope", "--duration", "forever"});
  EXPECT_EQ(r.status, 64) << r;
  r = hoist({"audit", "verify", "--expect-head", "12"});
  EXPECT_EQ(r.status, 64) << r;
  r = hoist({"requests", "frobnicate"});
  EXPECT_EQ(r.status, 64) << r;
  EXPECT_NE(r.err.find("hoist requests: unknown command \"frobnicate\"; the commands are: list,"), std::string::npos)
      << r;
  // A --socket that names nothing is told apart from a stopped agent.
  r = hoist({"status", "--socket", "/nonexistent/hoist-agent.sock"});
  EXPECT_EQ(r.status, 69) << r;
  EXPECT_NE(r.err.find("there is no socket at /nonexistent/hoist-agent.sock (--socket)"), std::string::npos) << r;
  // --help ends with examples (issue 20, item 10).
  r = hoist({"--help"});
  EXPECT_EQ(r.status, 0) << r;
  EXPECT_NE(r.out.find("Examples:\n  hoist login https://"), std::string::npos) << r;
  EXPECT_NE(r.out.find("hoist elevate --reason"), std::string::npos) << r;
  r = hoist({"notify"});
  EXPECT_EQ(r.status, 64) << r;
  EXPECT_NE(r.err.find("hoist notify: give a command: channels, test, deliveries, redrive"), std::string::npos) << r;
  // A login file others can read is refused.
  ASSERT_EQ(::chmod(config_.c_str(), 0644), 0);
  r = hoist({"whoami"});
  EXPECT_EQ(r.status, 77) << r;
  EXPECT_NE(r.err.find("chmod 600"), std::string::npos) << r;
  ASSERT_EQ(::chmod(config_.c_str(), 0600), 0);
  // The server is gone.
  EXPECT_EQ(hoistd_.stop(), 0);
  r = hoist({"whoami"});
  EXPECT_EQ(r.status, 69) << r;
}

TEST_F(CliE2e, AuditVerifyFindsAnEventEditedInTheDatabase) {
  ASSERT_EQ(login().status, 0);
  auto r = hoist({"policy", "apply", write_file("web.toml", kPolicy)});
  ASSERT_EQ(r.status, 0) << r;
  r = hoist({"audit", "verify"});
  ASSERT_EQ(r.status, 0) << r;
  ASSERT_EQ(hoistd_.stop(), 0);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((hoistd_.data_dir() + "/hoist.db").c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc =
      sqlite3_exec(db, "UPDATE audit_events SET actor = 'somebody else' WHERE seq = 2", nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error != nullptr ? error : "");
  sqlite3_free(error);
  EXPECT_EQ(sqlite3_changes(db), 1);
  sqlite3_close(db);
  ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
  // The same CA and token; only the port is new.
  const std::vector<std::pair<std::string, std::string>> env = {{"HOIST_SERVER", hoistd_.url()}};
  r = hoist({"audit", "verify"}, "", env);
  EXPECT_EQ(r.status, 65) << r;
  EXPECT_NE(r.err.find("DOES NOT VERIFY at event 2"), std::string::npos) << r;
  r = hoist({"--json", "audit", "verify"}, "", env);
  EXPECT_EQ(r.status, 65) << r;
  EXPECT_EQ(r.json().at("first_bad_seq").to_number<int>(), 2) << r;
}

TEST_F(CliE2e, TheHelpDeskIssuesListsAndRotatesAdminCodes) {
  ASSERT_EQ(login().status, 0);
  auto laptop = hoistd_.enrol({"laptops"}, "laptop-7");
  ASSERT_TRUE(laptop.ok()) << laptop.error().message;
  ASSERT_TRUE(hoistd_.enrol({"laptops"}, "twin").ok());
  ASSERT_TRUE(hoistd_.enrol({"laptops"}, "twin").ok());

  // By hostname: a pre-issued code, shown once in groups to read aloud.
  auto r = hoist({"code", "issue", "--endpoint", "laptop-7", "--user", "alice", "--for", "2h", "--days", "3",
                  "--command", "/usr/bin/apt-get", "--reason", "ticket 77"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_NE(r.out.find("Pre-issued code for alice: running /usr/bin/apt-get for 2h on laptop-7."), std::string::npos)
      << r;
  EXPECT_NE(r.out.find("Usable once until"), std::string::npos) << r;
  // --json for scripts: the server's answer, code included.
  r = hoist({"--json", "code", "issue", "--endpoint", laptop->id, "--user", "bob", "--for", "30m"});
  ASSERT_EQ(r.status, 0) << r;
  const std::string code(r.json().at("code").as_string());
  EXPECT_EQ(code.size(), 24U) << r;  // 20 characters in groups of four
  EXPECT_EQ(r.json().at("generation").to_number<int>(), 1) << r;

  // Listed, without the codes.
  r = hoist({"code", "list", "--endpoint", laptop->id});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_NE(r.out.find("laptop-7"), std::string::npos) << r;
  EXPECT_NE(r.out.find("2h /usr/bin/apt-get"), std::string::npos) << r;
  EXPECT_NE(r.out.find("issued"), std::string::npos) << r;
  EXPECT_EQ(r.out.find(code), std::string::npos) << r;
  r = hoist({"--json", "code", "list", "--user", "bob"});
  ASSERT_EQ(r.status, 0) << r;
  ASSERT_EQ(r.json().at("codes").as_array().size(), 1U) << r;
  EXPECT_EQ(r.out.find(code), std::string::npos) << r;

  // Two endpoints share a hostname: say which ids, issue nothing.
  r = hoist({"code", "issue", "--endpoint", "twin", "--user", "alice", "--for", "1h"});
  EXPECT_EQ(r.status, 65) << r;
  EXPECT_NE(r.err.find("2 endpoints are called \"twin\""), std::string::npos) << r;
  r = hoist({"code", "issue", "--endpoint", "nowhere", "--user", "alice", "--for", "1h"});
  EXPECT_EQ(r.status, 66) << r;
  r = hoist({"code", "issue", "--endpoint", "laptop-7", "--user", "alice", "--for", "forever"});
  EXPECT_EQ(r.status, 64) << r;
  r = hoist({"code", "issue", "--endpoint", "laptop-7", "--user", "alice", "--for", "61m"});
  EXPECT_EQ(r.status, 65) << r;

  // Rotation: the next code is made with the new key.
  r = hoist({"code", "rotate-key", "--endpoint", "laptop-7"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_NE(r.out.find("is now generation 2"), std::string::npos) << r;
  r = hoist({"--json", "code", "issue", "--endpoint", "laptop-7", "--user", "alice", "--for", "1h"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_EQ(r.json().at("generation").to_number<int>(), 2) << r;
}

}  // namespace
}  // namespace hoist::testing

namespace hoist::testing {
namespace {

// hoist notify against the real hoistd and a real HTTPS webhook receiver:
// add a channel with a secret made here, test it, read the delivery log,
// see a refusal dead-letter, re-drive it, remove the channel.
TEST_F(CliE2e, AnAdminSetsUpTestsAndRedrivesAWebhookFromTheCli) {
  ASSERT_EQ(login().status, 0);
  PrivateDir rx_dir;
  // The receiver gets the secret hoist prints; start it once we have it.
  const auto added =
      hoist({"--json", "notify", "channels", "add", "approvers", "--url", "https://127.0.0.1:1/hook", "--events",
             "request.*,notify.channel_tested", "--ca-file", "/nonexistent/ca.pem", "--generate-secret"});
  ASSERT_EQ(added.status, 0) << added;
  // --json: the channel's JSON, with the secret made here as generated_secret.
  const auto& doc = added.json();
  const std::string id(doc.at("id").as_string());
  const std::string secret(doc.at("generated_secret").as_string());
  ASSERT_TRUE(secret.starts_with("whsec_")) << added;
  EXPECT_EQ(added.out.find(secret.substr(6)), added.out.rfind(secret.substr(6))) << "the secret shown once";
  EXPECT_TRUE(doc.at("secret").at("set").as_bool());

  WebhookReceiver rx(rx_dir.path(), secret);
  ASSERT_TRUE(rx.start()) << rx.error();
  const auto pointed =
      hoist({"notify", "channels", "set", id, "--url", rx.url("/cli"), "--ca-file", rx.ca_file(), "--timeout", "2s"});
  ASSERT_EQ(pointed.status, 0) << pointed;
  EXPECT_NE(pointed.out.find(rx.url("/cli")), std::string::npos) << pointed;
  EXPECT_NE(pointed.out.find("set (never shown)"), std::string::npos) << pointed;

  const auto tested = hoist({"notify", "test", id});
  EXPECT_EQ(tested.status, 0) << tested;
  EXPECT_NE(tested.out.find("delivered"), std::string::npos) << tested;
  ASSERT_EQ(rx.received().size(), 1U);
  EXPECT_TRUE(rx.received()[0].verified);
  EXPECT_EQ(rx.received()[0].json.at("type"), "notify.channel_tested");

  const auto listed = hoist({"--json", "notify", "channels", "list"});
  ASSERT_EQ(listed.status, 0) << listed;
  EXPECT_EQ(listed.json().at("channels").as_array().size(), 1U);
  EXPECT_EQ(listed.out.find(secret.substr(6)), std::string::npos);

  // A receiver that refuses: the test says so (65), the delivery is dead.
  ASSERT_TRUE(rx.start("status:400", rx.port())) << rx.error();
  const auto refused = hoist({"notify", "test", id});
  EXPECT_EQ(refused.status, 65) << refused;
  EXPECT_NE(refused.err.find("HTTP 400"), std::string::npos) << refused;
  const auto dead = hoist({"--json", "notify", "deliveries", "--state", "dead"});
  ASSERT_EQ(dead.status, 0) << dead;
  ASSERT_EQ(dead.json().at("deliveries").as_array().size(), 1U) << dead;

  ASSERT_TRUE(rx.start("ok", rx.port())) << rx.error();
  const auto redriven = hoist({"notify", "redrive", "--channel", id});
  EXPECT_EQ(redriven.status, 0) << redriven;
  EXPECT_NE(redriven.out.find("pending again"), std::string::npos) << redriven;
  for (int i = 0; i < 100 && rx.received().size() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(rx.received().size(), 3U);
  EXPECT_EQ(rx.received()[2].id, rx.received()[1].id);  // the same event again: the receiver drops it by id
  EXPECT_TRUE(rx.received()[2].verified);

  // Bad input is a usage error with a clear message; no secret on a flag.
  const auto no_secret =
      hoist({"notify", "channels", "add", "x", "--url", "https://h.example/x", "--events", "request.*"});
  EXPECT_EQ(no_secret.status, 64) << no_secret;
  EXPECT_NE(no_secret.err.find("--generate-secret"), std::string::npos) << no_secret;
  const auto bad_url = hoist(
      {"notify", "channels", "add", "x", "--url", "http://h.example/x", "--events", "request.*", "--generate-secret"});
  EXPECT_EQ(bad_url.status, 65) << bad_url;
  EXPECT_NE(bad_url.err.find("only https"), std::string::npos) << bad_url;

  const auto removed = hoist({"notify", "channels", "remove", id});
  EXPECT_EQ(removed.status, 0) << removed;
  EXPECT_EQ(hoist({"notify", "channels", "show", id}).status, 66);
}

}  // namespace
}  // namespace hoist::testing
