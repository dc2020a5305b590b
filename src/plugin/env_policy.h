// The elevated command's environment, built like sudoers' env_reset: a
// fresh environment for the target user with a short allow-list kept from
// the invoker's. Pure: the target's passwd facts are passed in.
//
// MUST: PATH is the secure path, never the invoker's. MUST: HOME, USER,
// LOGNAME, SHELL and MAIL describe the target user (a HOME kept from the
// invoker lets a root command read the invoker's dotfiles). MUST: a value
// holding "()" (a bash function definition) or a control character is
// never passed on. MUST: sudo -E is refused unless the agent's decision
// allows it, and even then the variables that steer loaders and
// interpreters (LD_*, BASH_ENV, PYTHONPATH, ...) are dropped.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "plugin/sudo_args.h"

namespace hoist::plugin {

struct EnvRequest {
  bool preserve_environment = false;        // sudo -E
  bool allow_preserve_environment = false;  // the decision allows -E
  std::string invoking_user;                // SUDO_USER
  std::uint32_t invoking_uid = 0;           // SUDO_UID
  std::uint32_t invoking_gid = 0;           // SUDO_GID
  std::string invoking_home;                // SUDO_HOME; "" = not set
  TargetUser target;
  std::string command;            // the resolved path, for SUDO_COMMAND
  std::vector<std::string> args;  // argv[1..], for SUDO_COMMAND
  std::string secure_path{kDefaultSecurePath};
};

// Why a variable of the invoker's is not passed on, or kKept.
enum class EnvVerdict { kKept, kNotListed, kUnsafeValue, kSetByHoist };

// The verdict for one variable under env_reset rules (or, with
// preserve_all, under -E rules: everything but the loader and interpreter
// variables).
EnvVerdict judge_variable(std::string_view name, std::string_view value, bool preserve_all);

// TZ as sudoers' env_check accepts it: an optional ':', then either a path
// under /usr/share/zoneinfo/ or a relative name, no ".." element, only
// printable non-blank characters, shorter than PATH_MAX.
bool safe_tz(std::string_view value);

// The command's environment as "NAME=value" strings, sorted by name.
// user_env is the invoker's (the first of duplicated names counts, as for
// getenv()); env_add holds the variables typed on sudo's command line.
// PermissionDenied for -E without allow_preserve_environment and for an
// env_add variable that would not be kept (naming them all, as sudoers
// does); InvalidArgument for target facts that cannot be right.
Result<std::vector<std::string>> build_environment(const EnvRequest& request, std::span<const EnvVar> user_env,
                                                   std::span<const EnvVar> env_add);

}  // namespace hoist::plugin
