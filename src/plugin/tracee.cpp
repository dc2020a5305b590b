#include "plugin/tracee.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "platform/proc_status.h"
#include "platform/unique_fd.h"

namespace hoist::plugin {

namespace {

struct Candidate {
  ExecCaller caller;
  std::uint64_t path_address = 0;
};

// The NUL-terminated string at `address` in process `pid`'s memory.
std::optional<std::string> read_string(pid_t pid, std::uint64_t address) {
  const std::string mem = "/proc/" + std::to_string(pid) + "/mem";
  const platform::UniqueFd fd(::open(mem.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  std::string out;
  char buf[256];
  while (out.size() < 4096) {
    const ssize_t n = ::pread(fd.get(), buf, sizeof buf, static_cast<off_t>(address + out.size()));
    if (n <= 0) return std::nullopt;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == '\0') return out;
      out.push_back(buf[i]);
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<ExecCaller> find_exec_caller(pid_t tracer, std::string_view exec_path) {
  std::vector<Candidate> found;
  for (const pid_t pid : platform::list_pids()) {
    auto status = platform::read_proc_status(pid);
    if (!status || status->tracer_pid != tracer || status->state != 't') continue;
    auto call = platform::read_proc_syscall(pid);
    if (!call || !call->has_value()) continue;
    const auto& sc = **call;
    Candidate c{ExecCaller{pid, status->ppid, status->effective_uid}, 0};
    if (sc.number == SYS_execve) {
      c.path_address = sc.args[0];
    } else if (sc.number == SYS_execveat) {
      c.path_address = sc.args[1];
    } else {
      continue;
    }
    found.push_back(c);
  }
  if (found.size() == 1) return found.front().caller;
  for (const auto& c : found) {
    if (auto path = read_string(c.caller.pid, c.path_address); path && *path == exec_path) return c.caller;
  }
  return std::nullopt;
}

}  // namespace hoist::plugin
