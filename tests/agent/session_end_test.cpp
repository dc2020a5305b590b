// tell_terminal: the notice goes to the terminal of the sudo process
// itself, found through its own descriptors, whatever /dev/pts shows.
#include "agent/session_end.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

namespace hoist::agent {
namespace {

// A process whose controlling terminal is a pty of a devpts instance of
// its own (as `unshare -Urm` and a new devpts give a user), so its device
// number may be another terminal's in /dev/pts. The parent reads what
// reaches that pty's master and sends it back through `report`.
struct PrivatePty {
  pid_t holder = -1;   // in the new mount namespace: owns the master
  pid_t session = -1;  // the pty's session leader (the "sudo")
  int report = -1;
};

PrivatePty start_private_pty(const std::string& dir) {
  int to_test[2];
  int pids[2];
  if (::pipe(to_test) != 0 || ::pipe(pids) != 0) return {};
  const pid_t holder = ::fork();
  if (holder == 0) {
    ::close(to_test[0]);
    ::close(pids[0]);
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("devpts", dir.c_str(), "devpts", 0, "newinstance,ptmxmode=0666,mode=0620") != 0) {
      ::_exit(2);
    }
    const int master = ::open((dir + "/ptmx").c_str(), O_RDWR | O_NOCTTY);
    if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) ::_exit(3);
    int n = 0;
    if (::ioctl(master, TIOCGPTN, &n) != 0) ::_exit(4);
    const std::string slave_path = dir + "/" + std::to_string(n);
    const pid_t session = ::fork();
    if (session == 0) {
      ::setsid();
      const int slave = ::open(slave_path.c_str(), O_RDWR);
      if (slave < 0 || ::ioctl(slave, TIOCSCTTY, 0) != 0) ::_exit(5);
      ::dup2(slave, 0);
      ::dup2(slave, 1);
      ::dup2(slave, 2);
      ::pause();
      ::_exit(0);
    }
    if (::write(pids[1], &session, sizeof session) != sizeof session) ::_exit(6);
    // Whatever reaches the master, to the test.
    char buf[1024];
    for (;;) {
      pollfd p{master, POLLIN, 0};
      if (::poll(&p, 1, 10000) <= 0) break;
      const auto got = ::read(master, buf, sizeof buf);
      if (got <= 0) break;
      if (::write(to_test[1], buf, static_cast<std::size_t>(got)) != got) break;
    }
    ::kill(session, SIGKILL);
    ::_exit(0);
  }
  ::close(to_test[1]);
  ::close(pids[1]);
  PrivatePty out;
  out.holder = holder;
  out.report = to_test[0];
  if (::read(pids[0], &out.session, sizeof out.session) != sizeof out.session) out.session = -1;
  ::close(pids[0]);
  return out;
}

TEST(TellTerminal, WritesToTheProcesssOwnTerminalNotTheOneItsNumberNamesInDevPts) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (a mount namespace and a devpts instance)";
  char tmpl[] = "/tmp/hoist-pty-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  PrivatePty pty = start_private_pty(dir);
  ASSERT_GT(pty.session, 0) << "could not make a private pty";
  // Its controlling terminal: its number belongs to the private instance.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(tell_terminal(pty.session, "hoist: your session ended\x1b[31m"));
  std::string heard;
  char buf[1024];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (heard.find("ended") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{pty.report, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    const auto got = ::read(pty.report, buf, sizeof buf);
    if (got <= 0) break;
    heard.append(buf, static_cast<std::size_t>(got));
  }
  EXPECT_NE(heard.find("hoist: your session ended\\x1b[31m"), std::string::npos)
      << "the notice did not reach the process's own pty (or its escape was not neutralised): " << heard;
  ::kill(pty.session, SIGKILL);
  ::kill(pty.holder, SIGKILL);
  int status = 0;
  ::waitpid(pty.holder, &status, 0);
  ::close(pty.report);
  ::rmdir(dir.c_str());
}

TEST(TellTerminal, NothingWithoutATerminal) {
  const pid_t child = ::fork();
  if (child == 0) {
    ::setsid();  // no controlling terminal
    ::pause();
    ::_exit(0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(tell_terminal(child, "nobody reads this"));
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
}

}  // namespace
}  // namespace hoist::agent
