#include "cli/password_prompt.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>

#include "platform/unique_fd.h"

namespace hoist::cli {

namespace {

constexpr std::size_t kMaxPassword = 1024;

// While echo is off: the terminal and its settings, for the signal handler.
std::atomic<int> g_tty_fd{-1};
termios g_saved{};

extern "C" void restore_and_reraise(int sig) {
  const int fd = g_tty_fd.load();
  if (fd >= 0) {
    (void)::tcsetattr(fd, TCSAFLUSH, &g_saved);
    [[maybe_unused]] const auto n = ::write(fd, "\n", 1);
  }
  (void)std::signal(sig, SIG_DFL);
  (void)std::raise(sig);
}

Result<std::string> read_line(int fd) {
  std::string line;
  for (;;) {
    char c = 0;
    const auto n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0 || c == '\n') {
      break;
    }
    if (line.size() >= kMaxPassword) {
      return invalid_argument("the password is longer than 1024 bytes");
    }
    line += c;
  }
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  return line;
}

}  // namespace

Result<std::string> read_password_from_tty(const std::string& prompt) {
  platform::UniqueFd tty(::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY));
  if (!tty.valid()) {
    return invalid_argument("no terminal to ask for the password on: use --password-stdin");
  }
  termios saved{};
  if (::tcgetattr(tty.get(), &saved) != 0) {
    return invalid_argument("no terminal to ask for the password on: use --password-stdin");
  }
  if (::write(tty.get(), prompt.data(), prompt.size()) < 0) {
    return invalid_argument("cannot write the password prompt to the terminal: use --password-stdin");
  }
  g_saved = saved;
  g_tty_fd.store(tty.get());
  struct sigaction action {};
  action.sa_handler = restore_and_reraise;
  sigemptyset(&action.sa_mask);
  struct sigaction old_int {};
  struct sigaction old_term {};
  struct sigaction old_quit {};
  struct sigaction old_hup {};
  (void)::sigaction(SIGINT, &action, &old_int);
  (void)::sigaction(SIGTERM, &action, &old_term);
  (void)::sigaction(SIGQUIT, &action, &old_quit);
  (void)::sigaction(SIGHUP, &action, &old_hup);
  termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  quiet.c_lflag |= ECHONL;
  (void)::tcsetattr(tty.get(), TCSAFLUSH, &quiet);
  auto line = read_line(tty.get());
  (void)::tcsetattr(tty.get(), TCSAFLUSH, &saved);
  g_tty_fd.store(-1);
  (void)::sigaction(SIGINT, &old_int, nullptr);
  (void)::sigaction(SIGTERM, &old_term, nullptr);
  (void)::sigaction(SIGQUIT, &old_quit, nullptr);
  (void)::sigaction(SIGHUP, &old_hup, nullptr);
  return line;
}

Result<std::string> read_password_from_stdin() {
  auto line = read_line(STDIN_FILENO);
  if (line && line->empty()) {
    return invalid_argument("no password on standard input");
  }
  return line;
}

}  // namespace hoist::cli
