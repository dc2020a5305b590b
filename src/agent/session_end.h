// Stopping the elevated processes of a temporary admin session that was
// revoked or expired, when the policy says so (end_session_processes).
//
// Each run is a sudo process that the plugin lives in; under intercept
// (ptrace mode) that sudo process traces every process of the command's
// tree. So: SIGHUP to sudo, which relays it to the command (a shell exits
// on it); two seconds later SIGKILL to whatever that sudo still traces.
//
// Before the signal, `notice` is written to the sudo process's terminal, if
// it has one, so the user reads why the command stopped rather than only
// the shell's "Hangup".
//
// MUST: only a process that is still a sudo binary run by the session's
// user is signalled or written to (a pid may have been reused since it was
// recorded). The terminal is sudo's own: one of its descriptors 0 to 2
// that is the character device the kernel names as its controlling
// terminal (tty_nr), reopened through /proc/PID/fd/N with
// O_NOCTTY|O_NONBLOCK, never found by a /dev path (a user's private devpts
// can reuse another user's pty number); the write goes through the
// terminal's own permissions
// (hoist-agent.service is in group tty and has no CAP_DAC_OVERRIDE), so a
// user who ran `mesg n` is not written to, as with wall(1).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/agent.h"

namespace hoist::agent {

// Signals the runs as above, on a detached thread (returns at once).
void end_session_runs(const std::vector<SessionRun>& runs, const std::vector<std::string>& sudo_binaries,
                      const std::string& notice);

// Writes `text` (made safe to show, at most 512 characters, on a line of its
// own) to the terminal of process `pid`; false when it has none or it
// cannot be written without blocking.
bool tell_terminal(pid_t pid, std::string_view text);

}  // namespace hoist::agent
