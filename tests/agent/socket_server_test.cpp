// hoist-agent's socket (src/agent/socket_server.h) and the plugin's client
// of it (src/plugin/agent_client.h), over a real Unix socket: connection
// limits per pool and per uid (root's pool, sudo's and users'), a refusal
// the client reads even when its request could not be sent, connections
// that say nothing, progress frames that keep a slow turn alive, and a hung
// agent found out by its silence. The cases that connect as other uids
// need root (CI runs as root) and skip otherwise.
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "agent/socket_server.h"
#include "endpoint/agent_connection.h"
#include "ipc/messages.h"

namespace hoist::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr uid_t kUserA = 65534;
constexpr uid_t kUserB = 65533;

int connect_raw(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) return -1;
  return fd;
}

// Reads what arrives within `ms` (until the peer closes or is quiet).
std::string read_for(int fd, int ms) {
  std::string out;
  const auto until = steady_clock::now() + milliseconds(ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(until - steady_clock::now()).count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) break;
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// A child process with real uid `ruid` and effective uid `euid`: 0 as
// euid with the test binary among the sudo binaries is a "sudo run" of
// ruid. Only system calls after fork(); the parent prepared `request`.
class Peer {
 public:
  // Opens `hold` connections and keeps them; then, when `request` is not
  // empty, one more that sends it and reports through exit status: 0 for
  // an answer, 1 for a rate_limited refusal, 2 for a close, 3 for silence.
  Peer(const std::string& socket, uid_t ruid, uid_t euid, int hold, const std::string& request) {
    int ready[2];
    if (::pipe(ready) != 0) return;
    pid_ = ::fork();
    if (pid_ != 0) {
      ::close(ready[1]);
      char byte = 0;
      (void)!::read(ready[0], &byte, 1);
      ::close(ready[0]);
      return;
    }
    ::close(ready[0]);
    if (::setgroups(0, nullptr) != 0 || ::setresgid(ruid, ruid, ruid) != 0 || ::setresuid(ruid, euid, euid) != 0) {
      ::_exit(126);
    }
    for (int i = 0; i < hold; ++i) {
      if (connect_raw(socket) < 0) ::_exit(125);
    }
    int result = 0;
    if (!request.empty()) {
      const int fd = connect_raw(socket);
      if (fd < 0) ::_exit(124);
      (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
      char buf[4096];
      pollfd p{fd, POLLIN, 0};
      result = 3;
      if (::poll(&p, 1, 3000) > 0) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        result = n <= 0 ? 2 : (::memmem(buf, static_cast<std::size_t>(n), "rate_limited", 12) != nullptr ? 1 : 0);
      }
    }
    (void)!::write(ready[1], "r", 1);
    if (request.empty()) ::pause();  // holding: until killed
    ::_exit(result);
  }
  ~Peer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;
  // The request's outcome (see the constructor).
  int outcome() {
    int status = 0;
    if (pid_ <= 0 || ::waitpid(pid_, &status, 0) != pid_) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
};

class SocketServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hoist-socket-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ::chmod(dir_.c_str(), 0755);  // other uids connect too
    socket_ = dir_ + "/agent.sock";
    options_.path = socket_;
    options_.first_frame_timeout = milliseconds(400);
    options_.idle_timeout = std::chrono::seconds(3);
    options_.progress_interval = milliseconds(100);
    char self[4096] = {};
    ASSERT_GT(::readlink("/proc/self/exe", self, sizeof self - 1), 0);
    options_.sudo_binaries = {self};
    request_ = *ipc::encode_frame(ipc::to_fields(ipc::CancelMessage{"r-1"}));
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (runner_.joinable()) runner_.join();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  void start() {
    auto server = SocketServer::create(options_, [this](const Caller& caller, const ipc::Fields&, int) {
      std::this_thread::sleep_for(handler_delay_.load());
      Turn turn{ipc::to_fields(ipc::ErrorMessage{ErrorCode::kNotFound, "answered uid " + std::to_string(caller.uid)}),
                {}};
      if (follow_up_) {
        turn.follow_up = [this] {
          std::this_thread::sleep_for(follow_up_delay_.load());
          return ipc::to_fields(ipc::RecordedMessage{});
        };
      }
      return turn;
    });
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(*server);
    runner_ = std::thread([this] { server_->run(); });
  }
  static bool root() { return ::geteuid() == 0; }

  std::string dir_, socket_, request_;
  SocketServerOptions options_;
  std::atomic<milliseconds> handler_delay_{milliseconds(0)};
  // Each reply is followed by a `recorded` frame after this long.
  std::atomic<bool> follow_up_{false};
  std::atomic<milliseconds> follow_up_delay_{milliseconds(0)};
  std::unique_ptr<SocketServer> server_;
  std::thread runner_;
};

// Attacker: a local user. Goal: deny the socket to everyone else by
// holding connections. Must hold: over their own limit they are refused
// with a message; another user and root still get through.
TEST_F(SocketServerTest, AUserAtTheirLimitDeniesNobodyElse) {
  if (!root()) GTEST_SKIP() << "connecting as other uids needs root";
  options_.first_frame_timeout = milliseconds(10'000);
  options_.limits.per_user = 3;
  options_.sudo_binaries = {};  // this test's root process is root, not a sudo run
  start();
  Peer holder(socket_, kUserA, kUserA, 3, "");
  EXPECT_EQ(Peer(socket_, kUserA, kUserA, 0, request_).outcome(), 1) << "the fourth of uid A: refused, saying why";
  EXPECT_EQ(Peer(socket_, kUserB, kUserB, 0, request_).outcome(), 0) << "another user";
  auto client = endpoint::AgentConnection::connect(socket_);
  ASSERT_TRUE(client.ok());
  auto reply = client->call(ipc::to_fields(ipc::CancelMessage{"r"}));
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(ipc::error_from(*reply)->message, "answered uid 0") << "root";
}

// sudo runs (a root peer that is a sudo binary, speaking for its real
// uid) have a pool of their own: a user's programs at their limit do not
// stop that user's sudo, and a user's sudo runs at theirs stop nobody else.
TEST_F(SocketServerTest, SudoRunsHaveTheirOwnPoolAndALimitPerUser) {
  if (!root()) GTEST_SKIP() << "connecting as other uids needs root";
  options_.first_frame_timeout = milliseconds(10'000);
  options_.limits.per_user = 2;
  options_.limits.per_user_sudo = 2;
  start();
  Peer programs(socket_, kUserA, kUserA, 2, "");
  EXPECT_EQ(Peer(socket_, kUserA, kUserA, 0, request_).outcome(), 1) << "a third program of uid A";
  EXPECT_EQ(Peer(socket_, kUserA, 0, 0, request_).outcome(), 0) << "uid A's sudo, their programs at the limit";
  Peer runs(socket_, kUserA, 0, 2, "");
  EXPECT_EQ(Peer(socket_, kUserA, 0, 0, request_).outcome(), 1) << "a third sudo run of uid A";
  EXPECT_EQ(Peer(socket_, kUserB, 0, 0, request_).outcome(), 0) << "a sudo run of uid B";
}

// The plugin must read a refusal as the agent's answer, not as an agent
// that is down (which would open break-glass), also when the agent closed
// the connection before the request could be sent.
TEST_F(SocketServerTest, TheClientReadsARefusal) {
  options_.first_frame_timeout = milliseconds(10'000);
  options_.limits.root = 1;
  options_.limits.per_user = 1;
  options_.sudo_binaries = {};
  start();
  const int held = connect_raw(socket_);  // the only slot of this process's pool
  ASSERT_GE(held, 0);
  std::this_thread::sleep_for(milliseconds(100));
  for (int i = 0; i < 20; ++i) {
    auto client = endpoint::AgentConnection::connect(socket_);
    ASSERT_TRUE(client.ok()) << client.error().message;
    if (i % 2 == 1) std::this_thread::sleep_for(milliseconds(20));  // the agent has closed its end by now
    auto reply = client->call(ipc::to_fields(ipc::CancelMessage{"r"}));
    ASSERT_TRUE(reply.ok()) << "try " << i << ": " << reply.error().message;
    auto refused = ipc::error_from(*reply);
    ASSERT_TRUE(refused.ok());
    EXPECT_EQ(refused->code, ErrorCode::kRateLimited);
    EXPECT_NE(refused->message.find("the most it takes at once"), std::string::npos) << refused->message;
  }
  ::close(held);
}

TEST_F(SocketServerTest, AConnectionThatSaysNothingIsClosed) {
  start();
  const int quiet = connect_raw(socket_);
  ASSERT_GE(quiet, 0);
  const auto started = steady_clock::now();
  EXPECT_EQ(read_for(quiet, 5000), "");
  EXPECT_LT(steady_clock::now() - started, milliseconds(2000)) << "first_frame_timeout is 400 ms";
  ::close(quiet);
  // One that has had a turn may idle longer between turns.
  const int talking = connect_raw(socket_);
  ASSERT_GE(talking, 0);
  ASSERT_EQ(::send(talking, request_.data(), request_.size(), 0), static_cast<ssize_t>(request_.size()));
  EXPECT_NE(read_for(talking, 500), "");
  std::this_thread::sleep_for(milliseconds(1000));
  ASSERT_EQ(::send(talking, request_.data(), request_.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request_.size()));
  EXPECT_NE(read_for(talking, 500).find("answered"), std::string::npos) << "closed between turns too early";
  ::close(talking);
}

// The agent closes a connection idle between turns (the user at a
// prompt, on the phone to the help desk); the client opens a new one for
// its next turn instead of failing.
TEST_F(SocketServerTest, TheClientReconnectsAfterAnIdleClose) {
  options_.idle_timeout = std::chrono::seconds(1);
  start();
  auto client = endpoint::AgentConnection::connect(socket_);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(client->call(ipc::to_fields(ipc::CancelMessage{"r"})).ok());
  std::this_thread::sleep_for(milliseconds(1600));  // closed by the agent meanwhile
  auto later = client->call(ipc::to_fields(ipc::CancelMessage{"r"}));
  ASSERT_TRUE(later.ok()) << later.error().message;
  EXPECT_NE(ipc::error_from(*later)->message.find("answered"), std::string::npos);
}

// A turn that takes longer than the client's silence limit is kept alive
// by progress frames; the reply comes after them.
TEST_F(SocketServerTest, ProgressKeepsASlowTurnAlive) {
  handler_delay_ = milliseconds(1500);
  start();
  const endpoint::AgentTimeouts impatient{1000, 400, 10'000};
  auto client = endpoint::AgentConnection::connect(socket_, impatient);
  ASSERT_TRUE(client.ok());
  auto reply = client->call(ipc::to_fields(ipc::CancelMessage{"r"}));
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_NE(ipc::error_from(*reply)->message.find("answered"), std::string::npos);
  // On the wire: progress frames, then the reply.
  const int raw = connect_raw(socket_);
  ASSERT_EQ(::send(raw, request_.data(), request_.size(), 0), static_cast<ssize_t>(request_.size()));
  const std::string bytes = read_for(raw, 3000);
  ::close(raw);
  auto first = ipc::decode_frame(bytes);
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ(*(*first)->fields.one("type"), "progress");
  EXPECT_NE(bytes.find("answered"), std::string::npos);
}

// A reply with a follow-up (an early allow, then `recorded`): the client
// that said one may follow reads both, progress frames keeping the slow
// follow-up alive; the next turn works on the same connection.
TEST_F(SocketServerTest, AFollowUpFrameComesAfterTheReplyAndProgressKeepsItAlive) {
  follow_up_ = true;
  follow_up_delay_ = milliseconds(1000);
  start();
  const endpoint::AgentTimeouts impatient{1000, 400, 10'000};
  auto client = endpoint::AgentConnection::connect(socket_, impatient);
  ASSERT_TRUE(client.ok());
  const auto started = steady_clock::now();
  auto reply = client->call(ipc::to_fields(ipc::CancelMessage{"r"}), -1, 0, nullptr, {}, true);
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_LT(steady_clock::now() - started, milliseconds(800)) << "the reply leaves before the follow-up work";
  EXPECT_TRUE(client->frame_due());
  // Another turn before the follow-up is read would be out of step.
  auto early = endpoint::AgentConnection::connect(socket_, impatient);
  ASSERT_TRUE(early.ok());
  ASSERT_TRUE(early->call(ipc::to_fields(ipc::CancelMessage{"r"}), -1, 0, nullptr, {}, true).ok());
  auto refused = early->call(ipc::to_fields(ipc::CancelMessage{"r"}));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("out of step"), std::string::npos) << refused.error().message;
  auto next = client->next();
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(*next->one("type"), "recorded");
  EXPECT_GE(steady_clock::now() - started, milliseconds(1000));
  EXPECT_FALSE(client->frame_due());
  follow_up_delay_ = milliseconds(0);
  auto again = client->call(ipc::to_fields(ipc::CancelMessage{"r"}), -1, 0, nullptr, {}, true);
  ASSERT_TRUE(again.ok()) << again.error().message;
  ASSERT_TRUE(client->next().ok());
}

// Both frames in one read: a client that did not say another frame may
// follow refuses the pair, as any reply that is more than one frame; one
// that did keeps the second for next().
TEST_F(SocketServerTest, ASecondFrameIsRefusedUnlessOneMayFollow) {
  follow_up_ = true;
  handler_delay_ = milliseconds(0);
  start();
  auto strict = endpoint::AgentConnection::connect(socket_);
  ASSERT_TRUE(strict.ok());
  // The pair is sent before the client reads: wait for both to be there.
  auto reply = strict->call(ipc::to_fields(ipc::CancelMessage{"r"}), -1, 0, nullptr,
                            [] { std::this_thread::sleep_for(milliseconds(200)); });
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.error().message.find("more than one reply"), std::string::npos) << reply.error().message;
  auto lenient = endpoint::AgentConnection::connect(socket_);
  ASSERT_TRUE(lenient.ok());
  auto first = lenient->call(
      ipc::to_fields(ipc::CancelMessage{"r"}), -1, 0, nullptr, [] { std::this_thread::sleep_for(milliseconds(200)); },
      true);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first->one("type"), "error");
  // Told nothing follows after all, the buffered frame is an error.
  EXPECT_FALSE(lenient->nothing_follows().ok());
  EXPECT_FALSE(lenient->connected());
}

// A hung agent (it accepts into its backlog and never answers) is found
// out by its silence, and is not taken for one that is not running.
TEST_F(SocketServerTest, AHungAgentIsNotAnswering) {
  const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(listener, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  EXPECT_TRUE(endpoint::agent_listening(socket_));
  EXPECT_EQ(endpoint::agent_unreachable_message(socket_), endpoint::agent_not_answering_message());
  auto client = endpoint::AgentConnection::connect(socket_);
  ASSERT_TRUE(client.ok()) << client.error().message;
  const auto started = steady_clock::now();
  auto reply = client->call(ipc::to_fields(ipc::CancelMessage{"r"}));
  const auto took = steady_clock::now() - started;
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.error().message.find("not answering"), std::string::npos) << reply.error().message;
  EXPECT_LT(took, milliseconds(2000)) << "the default silence limit is 1.5 s";
  EXPECT_GE(took, milliseconds(1400));
  ::close(listener);
  ::unlink(socket_.c_str());
  EXPECT_FALSE(endpoint::agent_listening(socket_));
  EXPECT_EQ(endpoint::agent_unreachable_message(socket_), endpoint::agent_unreachable_message());
  auto none = endpoint::AgentConnection::connect(socket_);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("not running"), std::string::npos) << none.error().message;
}

}  // namespace
}  // namespace hoist::agent
