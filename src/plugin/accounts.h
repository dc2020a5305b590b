// The accounts the plugin needs from NSS (getpwnam_r and friends): whom
// the command runs as, and the invoker's shell and home directory.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"
#include "plugin/command_info.h"
#include "plugin/sudo_args.h"

namespace hoist::plugin {

// The target user (-u) and group (-g) from NSS; "#uid" and "#gid" name ids.
// As sudo(8) says, -g without -u runs the command as the invoking user with
// that group. PermissionDenied for an unknown user or group.
Result<TargetUser> lookup_target(const SudoSettings& s, const UserInfo& invoker);

// The passwd entry's shell and home directory; "" when there is none.
std::string shell_of(std::uint32_t uid);
std::string home_of(std::uint32_t uid);

}  // namespace hoist::plugin
