#include "plugin/env_policy.h"

#include <algorithm>
#include <array>
#include <map>
#include <new>
#include <set>
#include <utility>

namespace hoist::plugin {
namespace {

// Kept under env_reset when the value passes env_check: no '/' or '%'
// (sudoers' default env_check list, less TZ which has its own check).
bool checked_name(std::string_view name) {
  static constexpr std::array<std::string_view, 5> kNames{"TERM", "COLORTERM", "LANG", "LANGUAGE", "LINGUAS"};
  if (std::find(kNames.begin(), kNames.end(), name) != kNames.end()) return true;
  // LC_ALL, LC_CTYPE, LC_MESSAGES, ...
  return name.size() > 3 && name.substr(0, 3) == "LC_" &&
         std::all_of(name.begin() + 3, name.end(), [](char c) { return (c >= 'A' && c <= 'Z') || c == '_'; });
}

// Set by Hoist, never taken from the invoker.
bool hoist_name(std::string_view name) {
  static constexpr std::array<std::string_view, 11> kNames{"PATH",     "HOME",         "USER",      "LOGNAME",
                                                           "SHELL",    "MAIL",         "SUDO_USER", "SUDO_UID",
                                                           "SUDO_GID", "SUDO_COMMAND", "SUDO_HOME"};
  return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
}

// Variables that make a loader, libc or an interpreter run or load code of
// the invoker's choosing; dropped even when -E is allowed (sudoers'
// env_delete list plus later ones such as GLIBC_TUNABLES).
bool steering_name(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kPrefixes{
      "LD_", "_RLD", "MALLOC_", "GCONV_", "PYTHON", "PERL", "RUBY", "BASH_FUNC_", "GIT_", "NODE_", "JAVA_", "LUA_"};
  for (auto p : kPrefixes) {
    if (name.substr(0, p.size()) == p) return true;
  }
  static constexpr std::array<std::string_view, 30> kNames{"IFS",
                                                           "CDPATH",
                                                           "LOCALDOMAIN",
                                                           "RES_OPTIONS",
                                                           "HOSTALIASES",
                                                           "NLSPATH",
                                                           "PATH_LOCALE",
                                                           "TERMINFO",
                                                           "TERMINFO_DIRS",
                                                           "TERMPATH",
                                                           "TERMCAP",
                                                           "ENV",
                                                           "BASH_ENV",
                                                           "PS4",
                                                           "GLOBIGNORE",
                                                           "BASHOPTS",
                                                           "SHELLOPTS",
                                                           "FPATH",
                                                           "NULLCMD",
                                                           "READNULLCMD",
                                                           "ZDOTDIR",
                                                           "TMPPREFIX",
                                                           "KRB5_CONFIG",
                                                           "KRB5_KTNAME",
                                                           "GLIBC_TUNABLES",
                                                           "LOCPATH",
                                                           "OPENSSL_CONF",
                                                           "SSLKEYLOGFILE",
                                                           "PROMPT_COMMAND",
                                                           "LESSOPEN"};
  return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
}

bool clean_value(std::string_view value) {
  if (value.size() > kMaxEntryBytes || value.find("()") != std::string_view::npos) return false;
  return std::none_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

bool printable_no_blank(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < 20; ++i) out += (i == 0 ? "" : ", ") + names[i];
  if (names.size() > 20) out += ", ...";
  return out;
}

Result<std::vector<std::string>> build_unguarded(const EnvRequest& r, std::span<const EnvVar> user_env,
                                                 std::span<const EnvVar> env_add) {
  if (r.preserve_environment && !r.allow_preserve_environment) {
    return permission_denied(
        "sudo -E (keep your environment) is not allowed for this command; run it without -E, or pass single "
        "variables as NAME=value if the policy allows them");
  }
  const bool preserve_all = r.preserve_environment;
  if (r.target.name.empty() || !clean_value(r.target.name)) {
    return invalid_argument("the target user's name cannot be put in the environment");
  }
  if (!r.target.home.empty() && r.target.home.front() != '/') {
    return invalid_argument("the home directory of " + r.target.name + " is not an absolute path");
  }
  if (r.secure_path.empty()) return invalid_argument("the secure path is empty (this is a bug)");

  std::map<std::string, std::string, std::less<>> env;
  // The first of duplicated names decides, as getenv() sees it; a later
  // duplicate never slips through where the first was refused.
  std::set<std::string_view> seen;
  for (const auto& v : user_env) {
    if (!seen.insert(v.name).second) continue;
    if (judge_variable(v.name, v.value, preserve_all) == EnvVerdict::kKept) env.emplace(v.name, v.value);
  }
  std::vector<std::string> refused;
  for (const auto& v : env_add) {
    if (!valid_env_name(v.name) || judge_variable(v.name, v.value, preserve_all) != EnvVerdict::kKept) {
      refused.push_back(valid_env_name(v.name) ? v.name : std::string("(an invalid name)"));
    }
  }
  if (!refused.empty()) {
    return permission_denied("you may not set these environment variables through sudo: " + join_names(refused));
  }
  for (const auto& v : env_add) env.insert_or_assign(v.name, v.value);

  const std::string shell = r.target.shell.empty() ? std::string("/bin/sh") : r.target.shell;
  env.insert_or_assign("PATH", r.secure_path);
  env.insert_or_assign("HOME", r.target.home.empty() ? std::string("/") : r.target.home);
  env.insert_or_assign("USER", r.target.name);
  env.insert_or_assign("LOGNAME", r.target.name);
  env.insert_or_assign("SHELL", shell);
  env.insert_or_assign("MAIL", "/var/mail/" + r.target.name);
  env.try_emplace("TERM", "unknown");
  std::string args;
  for (const auto& a : r.args) {
    args += args.empty() ? "" : " ";
    args += a;
    if (args.size() >= 4096) break;
  }
  // sudoers limits the arguments to 4096 bytes, so the environment does not
  // push a long command line past ARG_MAX.
  if (args.size() > 4096) args.resize(4096);
  env.insert_or_assign("SUDO_COMMAND", args.empty() ? r.command : r.command + " " + args);
  env.insert_or_assign("SUDO_USER", r.invoking_user);
  env.insert_or_assign("SUDO_UID", std::to_string(r.invoking_uid));
  env.insert_or_assign("SUDO_GID", std::to_string(r.invoking_gid));
  if (!r.invoking_home.empty()) env.insert_or_assign("SUDO_HOME", r.invoking_home);

  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [name, value] : env) {
    if (value.find('\0') != std::string::npos) return invalid_argument("environment variable " + name + " holds a NUL");
    out.push_back(name + "=" + value);
  }
  return out;
}

}  // namespace

bool safe_tz(std::string_view value) {
  if (!value.empty() && value.front() == ':') value.remove_prefix(1);
  if (value.size() >= ipc::kMaxPathBytes) return false;
  constexpr std::string_view kZoneinfo = "/usr/share/zoneinfo/";
  if (!value.empty() && value.front() == '/' && value.substr(0, kZoneinfo.size()) != kZoneinfo) return false;
  if (!printable_no_blank(value)) return false;
  // No ".." path element anywhere.
  std::size_t pos = 0;
  while (pos <= value.size()) {
    const std::size_t end = std::min(value.find('/', pos), value.size());
    if (value.substr(pos, end - pos) == "..") return false;
    pos = end + 1;
  }
  return true;
}

EnvVerdict judge_variable(std::string_view name, std::string_view value, bool preserve_all) {
  if (hoist_name(name)) return EnvVerdict::kSetByHoist;
  if (!clean_value(value)) return EnvVerdict::kUnsafeValue;
  if (name == "TZ") return safe_tz(value) ? EnvVerdict::kKept : EnvVerdict::kUnsafeValue;
  if (checked_name(name)) {
    return value.find_first_of("/%") == std::string_view::npos && value.size() <= ipc::kMaxPathBytes
               ? EnvVerdict::kKept
               : EnvVerdict::kUnsafeValue;
  }
  if (name == "DISPLAY") {
    return printable_no_blank(value) && value.size() <= ipc::kMaxNameBytes ? EnvVerdict::kKept
                                                                           : EnvVerdict::kUnsafeValue;
  }
  if (name == "XAUTHORITY") {
    return normalised_absolute_path(value) && printable_no_blank(value) ? EnvVerdict::kKept : EnvVerdict::kUnsafeValue;
  }
  if (!preserve_all) return EnvVerdict::kNotListed;
  if (!valid_env_name(name) || steering_name(name)) return EnvVerdict::kNotListed;
  return EnvVerdict::kKept;
}

Result<std::vector<std::string>> build_environment(const EnvRequest& request, std::span<const EnvVar> user_env,
                                                   std::span<const EnvVar> env_add) {
  try {
    return build_unguarded(request, user_env, env_add);
  } catch (...) {
    return internal_error("out of memory while building the command's environment");
  }
}

}  // namespace hoist::plugin
