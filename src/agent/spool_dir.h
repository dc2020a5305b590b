// Where the break-glass spool is: hoist_sudo.so writes it (its spool_dir=
// option) and hoist-agent reads it (<state dir>/spool, or run --spool-dir).
// Both sides must name the same directory, or break-glass uses never reach
// the audit trail: install-plugin writes spool_dir= from the state
// directory it is given, and the defaults agree (checked at compile time in
// plugin_install.cpp against the plugin's kDefaultSpoolDir).
#pragma once

#include <string>
#include <string_view>

namespace hoist::agent {

// spool_dir_of(kDefaultStateDir) (state/sqlite_agent_state.h).
inline constexpr std::string_view kDefaultSpoolDir = "/var/lib/hoist-agent/spool";

// The spool of the agent whose state is in `state_dir` (no trailing '/').
inline std::string spool_dir_of(std::string_view state_dir) {
  while (state_dir.size() > 1 && state_dir.back() == '/') state_dir.remove_suffix(1);
  return std::string(state_dir) + "/spool";
}

}  // namespace hoist::agent
