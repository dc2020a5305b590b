// Facts about a process from /proc, as pure parsers of the kernel's text
// (proc(5)) plus thin readers. Used by the agent (who is this sudo process,
// what does it trace) and the plugin (which traced process is calling
// execve right now).
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace hoist::platform {

struct ProcStatus {
  char state = '?';  // R, S, D, T, t (tracing stop), Z, ...
  pid_t ppid = 0;
  pid_t tracer_pid = 0;  // 0: not traced
  uid_t real_uid = 0;
  uid_t effective_uid = 0;
};

// /proc/<pid>/status. InvalidArgument names the line that is missing or
// malformed.
Result<ProcStatus> parse_proc_status(std::string_view text);

// /proc/<pid>/syscall of a stopped process: the system call it is in and
// its six arguments; nullopt when it is in none ("-1 ..." or "running").
struct ProcSyscall {
  long number = 0;
  std::array<std::uint64_t, 6> args{};
};
Result<std::optional<ProcSyscall>> parse_proc_syscall(std::string_view text);

// The controlling terminal from /proc/<pid>/stat (field 7, tty_nr, the
// device number in the kernel's encoding); 0 when the process has none.
// The command name (field 2) may hold spaces and parentheses: fields are
// counted after its last ')'.
Result<std::uint32_t> parse_proc_stat_tty(std::string_view text);

// The /dev path of a terminal device number: /dev/pts/N (Unix98 ptys,
// majors 136-143) or /dev/ttyN (virtual consoles, major 4, minors 1-63);
// nullopt for any other device (serial lines and the like are not
// written to).
std::optional<std::string> terminal_path(std::uint32_t tty_nr);

// Readers: NotFound when the process is gone.
Result<ProcStatus> read_proc_status(pid_t pid);
Result<std::optional<ProcSyscall>> read_proc_syscall(pid_t pid);
Result<std::uint32_t> read_proc_stat_tty(pid_t pid);
// Every pid in /proc (processes, not threads).
std::vector<pid_t> list_pids();

}  // namespace hoist::platform
