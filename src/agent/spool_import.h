// The break-glass spool, read back: the plugin writes one file per
// break-glass use while hoist-agent is down (docs/sudo-plugin.md, "Spool
// format"); the agent turns each into a "break_glass" outbox event whose
// id derives from the file name (a file seen twice is queued once), then
// removes the file. Runs on the thread that uploads the outbox, so nothing
// here may block.
//
// MUST: nothing is read from a spool directory that is not a directory
// owned by the agent's effective uid (root) without access for group or
// others, checked on the descriptor it is then read through
// (O_DIRECTORY|O_NOFOLLOW, fstat).
// MUST: a file is read only when it is a regular file with one link, owned
// by that uid, without access for group or others, of at most
// kMaxSpoolFileBytes; it is looked at with fstatat(AT_SYMLINK_NOFOLLOW)
// before it is opened and opened relative to the directory with
// O_NOFOLLOW|O_NONBLOCK, then checked again with fstat. A symlink is never
// followed; a FIFO, socket or device is never opened, so no file can hang
// the thread; at most kMaxSpoolFilesPerRound files are read per call.
// MUST: a file that fails a check is renamed aside (NAME.rejected, never
// read again) only after a "spool.rejected" event saying what was wrong
// (its type, owner, mode and size) is queued: a break-glass use never
// vanishes unreported.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/state/agent_state.h"
#include "ipc/frame.h"

namespace hoist::agent {

inline constexpr std::size_t kMaxSpoolFileBytes = ipc::kMaxFrameBytes + 4;
inline constexpr std::size_t kMaxSpoolFilesPerRound = 100;

struct SpoolRound {
  std::size_t imported = 0;
  std::vector<std::string> rejected;   // "NAME: what was wrong", each set aside and reported
  std::optional<std::string> problem;  // the directory is not used (why), or an event could not be queued
};

// Imports what the spool holds now (a missing directory holds nothing).
SpoolRound import_spool(const std::string& dir, AgentState& state, const std::function<EventTime()>& clock);

}  // namespace hoist::agent
