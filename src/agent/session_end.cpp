#include "agent/session_end.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "agent/peer.h"
#include "platform/proc_status.h"

namespace hoist::agent {

namespace {

// Still the sudo process of that user (not a reused pid)?
bool still_the_run(const SessionRun& run, const std::vector<std::string>& sudo_binaries) {
  auto caller = speaking_for(PeerCredentials{run.sudo_pid, 0, 0}, sudo_binaries);
  return caller && caller->sudo && caller->uid == run.uid;
}

}  // namespace

void end_session_runs(const std::vector<SessionRun>& runs, const std::vector<std::string>& sudo_binaries) {
  std::thread([runs, sudo_binaries] {
    std::vector<SessionRun> signalled;
    for (const auto& run : runs) {
      if (still_the_run(run, sudo_binaries) && ::kill(run.sudo_pid, SIGHUP) == 0) signalled.push_back(run);
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
