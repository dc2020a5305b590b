// Break-glass: when hoist-agent cannot be reached, members of a few named
// Unix groups may still elevate (after PAM authentication), so an outage
// of the agent does not leave a host without administrators. Every use is
// logged (syslog) and written to a spool directory that hoist-agent uploads
// when it is back.
//
// The break-glass file (plugin option break_glass_file) lists one group
// per line (break_glass_groups.h has its grammar).
//
// MUST: the file is used only when it is a regular file owned by root, not
// writable by group or others, in a directory chain that is root-owned and
// not writable by others (platform::directory_chain_trusted); otherwise,
// or when it is invalid, nobody gets break-glass (fail closed). MUST: the
// spool directory is root-owned and not accessible to others; events are
// written to a temporary file and renamed into place.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "ipc/frame.h"
#include "plugin/break_glass_groups.h"

namespace hoist::plugin {

// Reads and checks the file (ownership, mode, directory chain, size).
Result<std::vector<std::string>> read_break_glass_file(const std::string& path);

// True when one of `groups` (names) has a gid in `gids` (the invoker's
// primary and supplementary groups, as sudo listed them); group names are
// looked up through NSS.
bool member_of_any(std::span<const std::string> groups, std::span<const std::uint32_t> gids);

// Writes one event into `spool_dir` atomically: "<unix time>-<random>.event"
// holding one ipc frame (docs/sudo-plugin.md, "Spool"). Creates the
// directory (0700) when missing; its parent must exist. Returns the file
// name.
Result<std::string> write_spool_event(const std::string& spool_dir, const ipc::Fields& event);

}  // namespace hoist::plugin
