// The agent's state directory (/var/lib/hoist-agent) and the database file in it.
// The file holds the endpoint's credential and the grants that decide who
// may run what as root, so whoever can write either can elevate.
//
// MUST: the directory is created with mode 0700 when absent (its parent
// must exist) and is refused, never repaired, when it is a symlink, not a
// directory, not owned by the effective uid, or writable by group or others.
// MUST: the database file is created with mode 0600 (O_CREAT|O_EXCL|
// O_NOFOLLOW relative to the checked directory's descriptor, then fchmod,
// so the umask does not matter) and is refused when it is a symlink, not a
// regular file, not owned by the effective uid, or accessible to group or
// others at all (it holds a secret). SQLite's -wal and -shm files, when
// present, are held to the same rules.
// MUST: one process at a time: an exclusive flock on the directory is held
// while the state is open.
// Refusals are InvalidArgument and name the path and what to change.
#pragma once

#include <sys/types.h>

#include <string>

#include "core/result.h"
#include "platform/unique_fd.h"

namespace hoist::agent {

struct CheckedStateDir {
  std::string dir;
  std::string db_path;
  platform::UniqueFd dir_fd;  // holds the flock
  dev_t db_dev = 0;
  ino_t db_ino = 0;
};

// Opens (creating if needed) `dir` and `dir/db_name`, checks both and locks
// the directory. Unavailable when something cannot be created, opened or
// locked (another process holds the lock: is hoist-agent already running?).
// With read_only: nothing is created and nothing locked (a reader beside
// the running agent); a missing directory or file is NotFound.
Result<CheckedStateDir> open_state_dir(const std::string& dir, const std::string& db_name, bool read_only = false);

// After SQLite opened db_path: it must still be the file that was checked,
// and SQLite's side files must pass the same checks.
Status recheck_state_files(const CheckedStateDir& checked);

}  // namespace hoist::agent
