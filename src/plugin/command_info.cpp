#include "plugin/command_info.h"

#include <algorithm>
#include <limits>
#include <new>
#include <utility>

#include "ipc/messages.h"
#include "plugin/sudo_args.h"

namespace hoist::plugin {
namespace {

// The first plugin API minor that knows each key we may need.
constexpr unsigned kApiExecfd = sudo_api_version(1, 9);
constexpr unsigned kApiIntercept = sudo_api_version(1, 18);  // intercept, log_subcmds
constexpr unsigned kApiPtrace = sudo_api_version(1, 19);     // use_ptrace
constexpr unsigned kApiVerify = sudo_api_version(1, 20);     // intercept_verify
constexpr unsigned kApiNfiles = sudo_api_version(1, 21);     // sudoedit_nfiles

std::string octal(std::uint32_t v) {
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + (v & 7)));
    v >>= 3;
  } while (v != 0);
  return "0" + digits;  // sudoers' "0%o"
}

std::string api_text(unsigned v) {
  return std::to_string(v >> 16) + "." + std::to_string(v & 0xffff);
}

Error too_old(std::string_view what, unsigned needed, unsigned have) {
  return unavailable(std::string(what) + " needs sudo plugin API " + api_text(needed) + " but this sudo speaks " +
                     api_text(have) + "; update sudo");
}

Result<CStringArray> build_unguarded(const CommandSpec& spec, unsigned api) {
  if (spec.command.empty() || spec.command.front() != '/' || spec.command.size() > ipc::kMaxPathBytes) {
    return invalid_argument("the command to run must be an absolute path (this is a bug)");
  }
  if (spec.runas.user.empty()) return invalid_argument("the user to run as has no name (this is a bug)");
  if (spec.runas.uid == std::numeric_limits<std::uint32_t>::max() ||
      spec.runas.gid == std::numeric_limits<std::uint32_t>::max()) {
    return invalid_argument("the user or group to run as has the id -1");
  }
  if (spec.runas.groups.size() > kMaxGroups) return invalid_argument("the user to run as has more than 65536 groups");
  if (!spec.cwd.empty() && spec.cwd.front() != '/') {
    return invalid_argument("the working directory must be an absolute path");
  }
  if (spec.cwd_optional && spec.cwd.empty()) return invalid_argument("cwd_optional without a cwd (this is a bug)");
  if (spec.execfd && *spec.execfd < 0) return invalid_argument("execfd must be a descriptor number");
  if (spec.timeout_s > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
    return invalid_argument("the timeout " + std::to_string(spec.timeout_s) + " s is longer than sudo accepts");
  }
  if (spec.umask && *spec.umask > 0777) return invalid_argument("the umask must be at most 0777");
  if (spec.sudoedit && spec.sudoedit_nfiles == 0) return invalid_argument("sudoedit without files (this is a bug)");
  if (spec.sudoedit && spec.recording != Recording::kNone) {
    // The editor runs as the invoker; there is no elevated process to record.
    return invalid_argument("recording processes does not apply to sudoedit");
  }
  if (spec.execfd && api < kApiExecfd) return too_old("running the checked file (execfd)", kApiExecfd, api);
  if (spec.recording != Recording::kNone) {
    if (api < kApiIntercept) return too_old("recording every process", kApiIntercept, api);
    if (spec.use_ptrace && api < kApiPtrace) return too_old("recording with ptrace", kApiPtrace, api);
    if (spec.recording == Recording::kIntercept && spec.use_ptrace && spec.intercept_verify && api < kApiVerify) {
      return too_old("verifying intercepted commands", kApiVerify, api);
    }
  }

  std::vector<std::string> info;
  info.reserve(24);
  info.push_back("command=" + spec.command);
  info.push_back("runas_user=" + spec.runas.user);
  if (!spec.runas.group.empty()) info.push_back("runas_group=" + spec.runas.group);
  info.push_back("runas_uid=" + std::to_string(spec.runas.uid));
  info.push_back("runas_gid=" + std::to_string(spec.runas.gid));
  info.push_back("runas_euid=" + std::to_string(spec.runas.uid));
  info.push_back("runas_egid=" + std::to_string(spec.runas.gid));
  std::string groups = "runas_groups=" + std::to_string(spec.runas.gid);
  std::vector<std::uint32_t> listed{spec.runas.gid};
  for (std::uint32_t g : spec.runas.groups) {
    if (std::find(listed.begin(), listed.end(), g) != listed.end()) continue;
    listed.push_back(g);
    groups += "," + std::to_string(g);
  }
  info.push_back(std::move(groups));
  if (!spec.cwd.empty()) info.push_back("cwd=" + spec.cwd);
  if (spec.cwd_optional) info.emplace_back("cwd_optional=true");
  info.emplace_back("closefrom=3");
  if (spec.execfd) info.push_back("execfd=" + std::to_string(*spec.execfd));
  if (spec.umask) info.push_back("umask=" + octal(*spec.umask));
  if (spec.timeout_s > 0) info.push_back("timeout=" + std::to_string(spec.timeout_s));
  if (spec.use_pty) info.emplace_back("use_pty=true");
  if (spec.recording == Recording::kIntercept) info.emplace_back("intercept=true");
  if (spec.recording == Recording::kLogSubcommands) info.emplace_back("log_subcmds=true");
  if (spec.recording != Recording::kNone && spec.use_ptrace) {
    info.emplace_back("use_ptrace=true");
    if (spec.recording == Recording::kIntercept && spec.intercept_verify) info.emplace_back("intercept_verify=true");
  }
  if (spec.sudoedit) {
    info.emplace_back("sudoedit=true");
    // sudo's own defaults since 1.8.16, said outright: no file in a
    // directory the invoker can write, and no symlink, is edited.
    info.emplace_back("sudoedit_checkdir=true");
    info.emplace_back("sudoedit_follow=false");
    // Older front ends find the files after "--" in argv_out instead.
    if (api >= kApiNfiles) info.push_back("sudoedit_nfiles=" + std::to_string(spec.sudoedit_nfiles));
  }
  return make_c_string_array(std::move(info));
}

}  // namespace

CStringArray::CStringArray(std::vector<std::string> strings) : strings_(std::move(strings)) {
  pointers_.reserve(strings_.size() + 1);
  for (auto& s : strings_) pointers_.push_back(s.data());
  pointers_.push_back(nullptr);
}

Result<CStringArray> make_c_string_array(std::vector<std::string> strings) {
  try {
    for (const auto& s : strings) {
      if (s.find('\0') != std::string::npos) {
        return invalid_argument("a string for sudo contains a NUL byte: \"" + s.substr(0, s.find('\0')) + "...\"");
      }
    }
    return CStringArray(std::move(strings));
  } catch (...) {
    return internal_error("out of memory while building sudo's vectors");
  }
}

std::uint32_t command_umask(std::optional<std::uint32_t> invoker_umask) {
  return (invoker_umask.value_or(022) | 022) & 0777;
}

Result<CStringArray> build_command_info(const CommandSpec& spec, unsigned api_version) {
  try {
    return build_unguarded(spec, api_version);
  } catch (...) {
    return internal_error("out of memory while building command_info");
  }
}

Result<CStringArray> build_intercept_command_info(std::string_view resolved_command) {
  try {
    if (resolved_command.empty() || resolved_command.front() != '/' || resolved_command.size() > ipc::kMaxPathBytes) {
      return invalid_argument("the intercepted command must be an absolute path (this is a bug)");
    }
    return make_c_string_array({"command=" + std::string(resolved_command)});
  } catch (...) {
    return internal_error("out of memory while building command_info");
  }
}

}  // namespace hoist::plugin
