// Stopping the elevated processes of a temporary admin session that was
// revoked or expired, when the policy says so (end_session_processes).
//
// Each run is a sudo process that the plugin lives in; under intercept
// (ptrace mode) that sudo process traces every process of the command's
// tree. So: SIGHUP to sudo, which relays it to the command (a shell exits
// on it); two seconds later SIGKILL to whatever that sudo still traces.
//
// MUST: only a process that is still a sudo binary run by the session's
// user is signalled (a pid may have been reused since it was recorded).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "agent/agent.h"

namespace hoist::agent {

// Signals the runs as above, on a detached thread (returns at once).
void end_session_runs(const std::vector<SessionRun>& runs, const std::vector<std::string>& sudo_binaries);

}  // namespace hoist::agent
