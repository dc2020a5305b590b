// The vectors the plugin hands back to sudo from check_policy():
// command_info ("key=value" strings telling sudo's front end how to run the
// command), argv_out and user_env_out, each owned here with a
// NULL-terminated `char**` view that stays valid until the owner is
// destroyed (sudo reads them up to close()).
//
// MUST: command_info always carries command=, runas_uid, runas_gid,
// runas_euid, runas_egid and runas_groups (with command= alone the command
// runs as uid 0 with the invoker's gid), and closefrom=3 (or the command
// inherits the plugin's sockets). MUST: login_class, chroot, preserve_groups,
// noexec, sudoedit_follow and sudoedit_checkdir=false are never produced.
// MUST: a key the running sudo does not know (its plugin API is too old) is
// an error when it carries a guarantee (execfd, intercept, timeout), never
// silently dropped: sudo ignores unknown keys.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace hoist::plugin {

// SUDO_API_MKVERSION(major, minor) from sudo_plugin.h, as open() gets it.
constexpr unsigned sudo_api_version(unsigned major, unsigned minor) {
  return (major << 16) | minor;
}
// sudo 1.9.13's API (sudo_plugin.h SUDO_API_VERSION_MINOR).
inline constexpr unsigned kSudoApi_1_21 = sudo_api_version(1, 21);

// Strings with a NULL-terminated `char**` view into them. Not copyable (the
// view points into this object's strings); moving keeps the view valid,
// since moving a vector keeps its elements where they are.
class CStringArray {
 public:
  CStringArray() : pointers_{nullptr} {}
  explicit CStringArray(std::vector<std::string> strings);
  CStringArray(const CStringArray&) = delete;
  CStringArray& operator=(const CStringArray&) = delete;
  CStringArray(CStringArray&&) noexcept = default;
  CStringArray& operator=(CStringArray&&) noexcept = default;
  ~CStringArray() = default;

  // NULL-terminated; sudo's ABI wants `char**` although it does not write.
  char** data() { return pointers_.data(); }
  const std::vector<std::string>& strings() const { return strings_; }
  std::size_t size() const { return strings_.size(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
};

// A CStringArray, or InvalidArgument for a string with a NUL byte (it would
// be cut short in C).
Result<CStringArray> make_c_string_array(std::vector<std::string> strings);

// Whom the command runs as. uid/gid become both the real and effective ids.
struct RunAs {
  std::string user;  // for sudo's logs only (runas_user=)
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::string group;                  // -g's name, for logs only; "" = the user's primary group
  std::vector<std::uint32_t> groups;  // supplementary groups of the target
};

// Recording every process of an elevated session (sudo_plugin(5) intercept).
enum class Recording {
  kNone,
  kLogSubcommands,  // log_subcmds=true: audit accept() events, no policy check per exec
  kIntercept,       // intercept=true: check_policy() again for every execve
};

struct CommandSpec {
  std::string command;  // absolute path of what runs (the editor for sudoedit)
  RunAs runas;
  std::string cwd;                     // absolute; "" = leave it to sudo (the invoker's cwd)
  bool cwd_optional = false;           // sudo -i: the target's home may be missing
  std::optional<int> execfd;           // fexecve() this descriptor: the inode that was checked
  std::uint64_t timeout_s = 0;         // 0 = none; else the grant's time left
  std::optional<std::uint32_t> umask;  // the command's umask (see command_umask())
  Recording recording = Recording::kNone;
  bool use_ptrace = true;        // with recording: seccomp + ptrace (covers static and set-id programs)
  bool intercept_verify = true;  // with kIntercept and ptrace: check the exec'd path and argv
  bool use_pty = false;
  // sudoedit: the command is the editor; it runs as the invoker on copies.
  bool sudoedit = false;
  std::size_t sudoedit_nfiles = 0;  // the files after "--" in argv_out
};

// The umask the command gets: the invoker's combined with 022, as sudoers'
// default umask does (nothing created is group or world writable unless the
// invoker's own umask allowed less).
std::uint32_t command_umask(std::optional<std::uint32_t> invoker_umask);

// command_info in a fixed order (the unit tests compare exact output):
// command, runas_user, runas_group, runas_uid, runas_gid, runas_euid,
// runas_egid, runas_groups, cwd, cwd_optional, closefrom=3, execfd, umask,
// timeout, use_pty, intercept/log_subcmds, use_ptrace, intercept_verify,
// sudoedit, sudoedit_checkdir=true, sudoedit_follow=false, sudoedit_nfiles. runas_groups lists the effective gid first
// and then the other groups without repeats, as sudoers does. InvalidArgument for a spec that cannot be expressed
// (relative command, negative execfd, a timeout past INT_MAX, NUL bytes, more than 65536 groups); Unavailable when
// api_version lacks a key the spec needs.
Result<CStringArray> build_command_info(const CommandSpec& spec, unsigned api_version);

// For a check_policy() call re-entered by intercept (one per execve of the
// session): only command= and argv_out are read by sudo.
Result<CStringArray> build_intercept_command_info(std::string_view resolved_command);

}  // namespace hoist::plugin
