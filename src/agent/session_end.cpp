#include "agent/session_end.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "agent/peer.h"
#include "core/display_text.h"
#include "platform/proc_status.h"
#include "platform/unique_fd.h"

namespace hoist::agent {

namespace {

// Still the sudo process of that user (not a reused pid)?
bool still_the_run(const SessionRun& run, const std::vector<std::string>& sudo_binaries) {
  auto caller = speaking_for(PeerCredentials{run.sudo_pid, 0, 0}, sudo_binaries);
  return caller && caller->sudo && caller->uid == run.uid;
}

}  // namespace

bool tell_terminal(pid_t pid, std::string_view text) {
  auto tty = platform::read_proc_stat_tty(pid);
  if (!tty || *tty == 0 || !platform::terminal_path(*tty)) return false;  // a pty or a console only
  // The terminal is opened through sudo's own descriptor (/proc/PID/fd/N,
  // 0 to 2), never by a /dev path: a device number alone names a pty of
  // some devpts instance, and a user's private one (unshare -Urm, a new
  // devpts) can have the number of another user's terminal (from the
  // attack pass). The descriptor is sudo's controlling terminal itself.
  for (int n = 0; n <= 2; ++n) {
    const std::string link = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(n);
    struct stat before {};
    if (::stat(link.c_str(), &before) != 0 || !S_ISCHR(before.st_mode) ||
        static_cast<std::uint32_t>(before.st_rdev) != *tty) {
      continue;
    }
    const platform::UniqueFd fd(::open(link.c_str(), O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid()) continue;
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISCHR(st.st_mode) || st.st_rdev != before.st_rdev ||
        st.st_dev != before.st_dev || st.st_ino != before.st_ino) {
      continue;
    }
    const std::string line = "\r\n" + cut_text(visible_text(valid_utf8(text, 2048)), 512) + "\r\n";
    return ::write(fd.get(), line.data(), line.size()) == static_cast<ssize_t>(line.size());
  }
  return false;
}

void end_session_runs(const std::vector<SessionRun>& runs, const std::vector<std::string>& sudo_binaries,
                      const std::string& notice) {
  std::thread([runs, sudo_binaries, notice] {
    std::vector<SessionRun> signalled;
    for (const auto& run : runs) {
      if (!still_the_run(run, sudo_binaries)) continue;
      if (!notice.empty()) (void)tell_terminal(run.sudo_pid, notice);
      if (::kill(run.sudo_pid, SIGHUP) == 0) signalled.push_back(run);
    }
    if (signalled.empty()) return;
    std::this_thread::sleep_for(std::chrono::seconds(2));
    for (const auto& run : signalled) {
      if (!still_the_run(run, sudo_binaries)) continue;
      for (const pid_t p : platform::list_pids()) {
        auto status = platform::read_proc_status(p);
        if (status && status->tracer_pid == run.sudo_pid) ::kill(p, SIGKILL);
      }
    }
  }).detach();
}

}  // namespace hoist::agent
