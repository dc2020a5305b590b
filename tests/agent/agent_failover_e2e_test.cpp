// hoist-agent with several hoistd URLs, end to end: the real hoistd and
// the real hoist-agent, enrolled with a list whose first URLs are a closed
// port and a port that accepts TCP and never answers; the agent whose
// hoistd is killed moves to the other URL (hoistd B is started on the same
// data directory, on another port, once A is dead: two hoistd's on separate
// data directories cannot share an enrolment); a hoistd of another CA is
// never used, even when it is the only one up; lists that are not https or
// too long are refused before anything is sent.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "agent/e2e_harness.h"

namespace hoist::testing {
namespace {

// A loopback port nothing listens on (bound once, then closed).
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string loopback_url(std::uint16_t port) {
  return "https://127.0.0.1:" + std::to_string(port);
}

// Accepts TCP connections (the kernel's backlog) and never says a word.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(::listen(fd_, 64), 0);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  [[nodiscard]] std::string url() const { return loopback_url(port_); }
  // Whether a connection waits in the backlog (someone dialled it).
  [[nodiscard]] bool dialled() const {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

std::string comma_joined(const std::vector<std::string>& urls) {
  std::string out;
  for (const auto& u : urls) out += (out.empty() ? "" : ",") + u;
  return out;
}

class FailoverE2E : public AgentE2E {
 protected:
  std::string new_token() {
    const auto token =
        hoistd_.call_json("POST", "/api/v1/enrolment-tokens", json::object{{"labels", json::array{"agents"}}}, admin_);
    EXPECT_EQ(token.status, 201) << token;
    return token.str("/token");
  }

  // hoist-agent enroll with one --server per item of `servers`.
  int enroll_with(const std::vector<std::string>& servers, const std::string& token) {
    std::vector<std::string> args{HOIST_AGENT_PATH, "enroll", "--state-dir", state_dir_, "--no-start"};
    for (const auto& s : servers) {
      args.emplace_back("--server");
      args.push_back(s);
    }
    for (const std::string& a : {std::string("--token"), token, std::string("--ca-pin"), hoistd_.ca_fingerprint(),
                                 std::string("--hostname"), std::string("e2e-agent")}) {
      args.push_back(a);
    }
    return run(args, log_);
  }

  std::string status() {
    const std::string out = hoistd_.dir() + "/status.txt";
    ::unlink(out.c_str());
    EXPECT_EQ(run({HOIST_AGENT_PATH, "status", "--state-dir", state_dir_}, out), 0) << slurp(out);
    return slurp(out);
  }

  // A request submitted through the agent, approved over the API, and the
  // approval seen by the agent through the push channel.
  void request_is_approved_through_push(const std::string& why) {
    auto submitted =
        state_of(ask(ipc::to_fields(ipc::SubmitMessage{context("/usr/bin/true", {"true", why}), why, 600})));
    ASSERT_TRUE(submitted) << submitted.error().message;
    ASSERT_EQ(submitted->state, RequestState::kPending);
    const std::string id = submitted->request_id;
    const auto approved =
        hoistd_.call_json("POST", "/api/v1/requests/" + id + "/approve", json::object{{"comment", why}}, admin_);
    ASSERT_EQ(approved.status, 200) << approved;
    // Each wait is at most 10 s; the push may need a reconnection first.
    auto seen = state_of(ask(ipc::to_fields(ipc::WaitMessage{id, 10000}), "", 11000));
    for (int i = 0; i < 2 && seen && seen->state == RequestState::kPending; ++i) {
      seen = state_of(ask(ipc::to_fields(ipc::WaitMessage{id, 10000}), "", 11000));
    }
    ASSERT_TRUE(seen) << seen.error().message;
    EXPECT_EQ(seen->state, RequestState::kApproved);
    EXPECT_EQ(seen->comment, why);
  }
};

// The agent starts with the URL that answered it last (its state keeps
// it), not the list's first: a first URL that never answers costs nothing
// after a restart, and is never even dialled while the other answers.
TEST_F(FailoverE2E, StartsWithTheServerThatAnsweredLast) {
  const SilentListener silent;
  ASSERT_EQ(enroll_with({silent.url(), hoistd_.url()}, new_token()), 0) << slurp(log_);
  ASSERT_NE(status().find("answered last: " + hoistd_.url()), std::string::npos);
  // Whatever enrolment dialled is gone from the backlog with a new listener.
  const SilentListener fresh;
  ASSERT_EQ(run({HOIST_AGENT_PATH, "set-servers", "--state-dir", state_dir_, fresh.url() + "," + hoistd_.url()}, log_),
            0)
      << slurp(log_);
  // set-servers keeps the last answer when its URL is still listed.
  ASSERT_NE(status().find("answered last: " + hoistd_.url()), std::string::npos) << status();
  start_agent();
  ASSERT_TRUE(eventually(
      [&] {
        auto d = check("/usr/bin/id", {"id"});
        return d && d->action == Action::kAllow;
      },
      milliseconds(30000)))
      << slurp(log_);
  EXPECT_NE(slurp(log_).find("agent.server_resumed"), std::string::npos) << slurp(log_);
  EXPECT_FALSE(fresh.dialled()) << "the first URL was tried although the second answered last";
}

TEST_F(FailoverE2E, EnrolsAndServesPastAClosedPortAndOneThatNeverAnswers) {
  const SilentListener silent;
  const std::string closed = loopback_url(free_port());
  const auto start = steady_clock::now();
  // The first two as one comma-separated item, the live one repeated.
  ASSERT_EQ(enroll_with({closed + "," + silent.url(), hoistd_.url()}, new_token()), 0) << slurp(log_);
  // The silent one costs one connect timeout (5 s), not a request timeout.
  EXPECT_LT(std::chrono::duration_cast<seconds>(steady_clock::now() - start).count(), 15);
  const std::string enrolled = status();
  EXPECT_NE(enrolled.find("servers: " + closed + ", " + silent.url() + ", " + hoistd_.url()), std::string::npos)
      << enrolled;
  EXPECT_NE(enrolled.find("answered last: " + hoistd_.url()), std::string::npos) << enrolled;

  start_agent();
  // The policy was fetched past the two: a rule of it allows.
  ASSERT_TRUE(eventually(
      [&] {
        auto d = check("/usr/bin/id", {"id"});
        return d && d->action == Action::kAllow;
      },
      milliseconds(30000)))
      << slurp(log_);
  request_is_approved_through_push("past two dead replicas");
}

TEST_F(FailoverE2E, MovesToTheOtherUrlWhenItsHoistdIsKilled) {
  const std::uint16_t port_b = free_port();
  const std::string url_a = hoistd_.url();
  const std::string url_b = loopback_url(port_b);
  ASSERT_EQ(enroll_with({url_a, url_b}, new_token()), 0) << slurp(log_);
  start_agent();
  request_is_approved_through_push("on replica A");

  // A dies; B comes up on the same data directory, on another port.
  EXPECT_EQ(hoistd_.stop(SIGKILL), 128 + SIGKILL);
  hoistd_.options().port = port_b;
  ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
  ASSERT_EQ(hoistd_.url(), url_b);

  // Submits, the policy and the push channel all reach B.
  ASSERT_TRUE(eventually(
      [&] {
        auto r = state_of(
            ask(ipc::to_fields(ipc::SubmitMessage{context("/usr/bin/true", {"true", "probe"}), "probe", 600})));
        return r && r->state == RequestState::kPending;
      },
      milliseconds(30000)))
      << slurp(log_);
  request_is_approved_through_push("on replica B");
  EXPECT_NE(status().find("answered last: " + url_b), std::string::npos);
  EXPECT_NE(slurp(log_).find("agent.server_answered"), std::string::npos);
}

TEST_F(FailoverE2E, AHoistdOfAnotherCaIsNeverUsedEvenWhenItIsTheOnlyOneUp) {
  HoistdProcess impostor;  // its own data directory: its own CA
  ASSERT_TRUE(impostor.start()) << impostor.start_error();
  ASSERT_NE(impostor.ca_fingerprint(), hoistd_.ca_fingerprint());
  const std::string closed = loopback_url(free_port());

  // Enrolment: the impostor is the only one up, and is refused.
  ASSERT_NE(enroll_with({closed, impostor.url()}, new_token()), 0);
  EXPECT_NE(slurp(log_).find("pinned fingerprint"), std::string::npos) << slurp(log_);
  EXPECT_NE(status().find("not enrolled"), std::string::npos);

  // Enrolled past it; then the real one goes away and only the impostor is
  // left: the agent keeps deciding from its policy and sends it nothing.
  ASSERT_EQ(enroll_with({impostor.url(), hoistd_.url()}, new_token()), 0) << slurp(log_);
  start_agent();
  ASSERT_TRUE(eventually(
      [&] {
        auto d = check("/usr/bin/id", {"id"});
        return d && d->action == Action::kAllow;
      },
      milliseconds(30000)));
  EXPECT_EQ(hoistd_.stop(SIGKILL), 128 + SIGKILL);
  auto submitted = state_of(
      ask(ipc::to_fields(ipc::SubmitMessage{context("/usr/bin/true", {"true"}), "only an impostor is up", 600}), "",
          30000));
  EXPECT_FALSE(submitted && submitted->state == RequestState::kPending);
  auto still = check("/usr/bin/id", {"id"});
  ASSERT_TRUE(still) << still.error().message;
  EXPECT_EQ(still->action, Action::kAllow);
  // Not one request of the agent reached the impostor (its log names every
  // request it served; it served none of /api/v1/agent).
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_EQ(impostor.output().find("/api/v1/agent"), std::string::npos) << impostor.output();
}

TEST_F(FailoverE2E, ListsThatAreNotHttpsOrTooLongAreRefusedBeforeAnythingIsSent) {
  const std::string token = new_token();
  ASSERT_NE(enroll_with({hoistd_.url(), "http://127.0.0.1:1"}, token), 0);
  EXPECT_NE(slurp(log_).find("'http://127.0.0.1:1' is not an https:// URL"), std::string::npos) << slurp(log_);
  std::vector<std::string> many;
  for (int i = 0; i < 17; ++i) many.push_back("https://127.0.0.1:" + std::to_string(20000 + i));
  ASSERT_NE(enroll_with(many, token), 0);
  EXPECT_NE(slurp(log_).find("more than 16 servers"), std::string::npos) << slurp(log_);
  ASSERT_NE(enroll_with({hoistd_.url() + "," + hoistd_.url()}, token), 0);
  // The token was never used: it enrols now.
  ASSERT_EQ(enroll_with({hoistd_.url()}, token), 0) << slurp(log_);

  // set-servers: the same rules, then the list replaces the old one.
  if (::geteuid() == 0) {
    const std::string out = hoistd_.dir() + "/set-servers.txt";
    EXPECT_NE(run({HOIST_AGENT_PATH, "set-servers", "--state-dir", state_dir_, "http://127.0.0.1:1"}, out), 0);
    EXPECT_NE(
        run(std::vector<std::string>{HOIST_AGENT_PATH, "set-servers", "--state-dir", state_dir_, comma_joined(many)},
            out),
        0);
    const std::string spare = loopback_url(free_port());
    ASSERT_EQ(run({HOIST_AGENT_PATH, "set-servers", "--state-dir", state_dir_, spare, hoistd_.url()}, out), 0)
        << slurp(out);
    EXPECT_NE(status().find("servers: " + spare + ", " + hoistd_.url()), std::string::npos);
    start_agent();
    request_is_approved_through_push("after set-servers");
  }
}

// One host name that resolves to two addresses (issue 21, item 4): the
// agent enrolled with https://hoist-e2e.test:PORT, where the name is
// 127.0.0.2 and 127.0.0.3 in an /etc/hosts bind-mounted in a private mount
// namespace (the host's file is never touched). hoistd listens on the
// first address, named in its certificate ([tls] dns_names); it is killed
// and comes back on the second address (same data directory, same port):
// the agent goes on there, its pin unchanged.
TEST_F(FailoverE2E, OneNameOfTwoAddressesGoesOnWhenTheFirstAddressDies) {
  static constexpr const char* kName = "hoist-e2e.test";
  if (std::getenv("HOIST_E2E_IN_HOSTS_NS") == nullptr) {  // NOLINT(concurrency-mt-unsafe)
    // This very test again, in a private mount namespace with its own /etc/hosts.
    const std::string hosts = hoistd_.dir() + "/hosts";
    std::ofstream(hosts) << "127.0.0.1 localhost\n127.0.0.2 " << kName << "\n127.0.0.3 " << kName << "\n";
    const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    const std::string cmd =
        "unshare -m sh -c 'mount --bind " + hosts + " /etc/hosts && HOIST_E2E_IN_HOSTS_NS=1 exec " + self +
        " --gtest_brief=1 --gtest_filter=FailoverE2E.OneNameOfTwoAddressesGoesOnWhenTheFirstAddressDies'";
    EXPECT_EQ(std::system(cmd.c_str()), 0);  // NOLINT(cert-env33-c): the test's own paths
    return;
  }
  const std::uint16_t port = hoistd_.port();
  const auto listen_on = [&](const std::string& address) {
    hoistd_.options().config_toml =
        "[server]\nlisten = \"" + address + "\"\n[tls]\ndns_names = [\"" + std::string(kName) +
        "\"]\n"
        "ip_addresses = [\"127.0.0.2\", \"127.0.0.3\"]\n";  // the fixture's own calls go to the address
    hoistd_.options().port = port;
  };
  EXPECT_EQ(hoistd_.stop(), 0);
  listen_on("127.0.0.2");
  ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
  const std::string url = "https://" + std::string(kName) + ":" + std::to_string(port);
  ASSERT_EQ(enroll_with({url}, new_token()), 0) << slurp(log_);
  start_agent();
  request_is_approved_through_push("on 127.0.0.2");

  // The first address dies; hoistd comes back on the second.
  EXPECT_EQ(hoistd_.stop(SIGKILL), 128 + SIGKILL);
  listen_on("127.0.0.3");
  ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
  ASSERT_TRUE(eventually(
      [&] {
        auto r = state_of(
            ask(ipc::to_fields(ipc::SubmitMessage{context("/usr/bin/true", {"true", "probe"}), "probe", 600})));
        return r && r->state == RequestState::kPending;
      },
      milliseconds(30000)))
      << slurp(log_);
  request_is_approved_through_push("on 127.0.0.3");
  EXPECT_NE(status().find("servers: " + url), std::string::npos) << "one URL, the name's";
}

}  // namespace
}  // namespace hoist::testing
