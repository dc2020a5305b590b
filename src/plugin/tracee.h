// Which process is calling execve, when sudo's intercept (ptrace mode)
// calls check_policy again: sudo passes only the path and argv. The plugin
// runs in the tracing sudo process, and the caller is stopped in execve, so
// it is the process this sudo traces that is in tracing stop inside execve
// (or execveat) of that path (read from its memory when several are).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string_view>

namespace hoist::plugin {

struct ExecCaller {
  pid_t pid = 0;
  pid_t ppid = 0;
  uid_t euid = 0;
};

// nullopt when no such process can be found (the facts are then unknown,
// never guessed).
std::optional<ExecCaller> find_exec_caller(pid_t tracer, std::string_view exec_path);

}  // namespace hoist::plugin
