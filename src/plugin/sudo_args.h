// The typed adapter between sudo's policy plugin ABI and Hoist: sudo's
// NULL-terminated "key=value" arrays (settings, user_info, user_env,
// plugin_options, env_add) become typed structs. Pure: no I/O, no getenv,
// no locale (numbers are parsed by hand, in the C locale's sense).
//
// MUST: a missing required key, a malformed or out-of-range value, or a
// duplicated known key is an InvalidArgument naming the key; the plugin
// then denies (fail closed). MUST: unknown keys in sudo's arrays are
// ignored, since sudo adds keys over versions; unknown plugin options in
// sudo.conf are refused, since they can only be typos of the admin's.
// MUST: every read is bounded (entries per array, bytes per entry), and no
// exception leaves a public function.
//
// docs/sudo-plugin.md explains what each key means to Hoist.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "ipc/messages.h"

namespace hoist::plugin {

// Bounds on what sudo hands the plugin, so a hostile invoker (who controls
// argv and the environment) cannot make the plugin allocate without limit.
inline constexpr std::size_t kMaxArrayEntries = ipc::kMaxArgs;  // settings, user_info, options, argv, env
inline constexpr std::size_t kMaxEntryBytes = 128 * 1024;       // MAX_ARG_STRLEN, the kernel's own limit
inline constexpr std::size_t kMaxArgvBytes = 128 * 1024;        // all of argv, so a check frame fits
inline constexpr std::size_t kMaxGroups = 65536;                // NGROUPS_MAX on Linux
inline constexpr std::size_t kMaxSocketPathBytes = 107;         // sizeof(sun_path) - 1

// sudo's default secure path; the same value as platform::kSecurePath
// (a unit test checks), repeated so this library needs no platform code.
inline constexpr std::string_view kDefaultSecurePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
inline constexpr std::string_view kDefaultPamService = "sudo";
inline constexpr std::string_view kDefaultTimestampDir = "/run/hoist/ts";
inline constexpr std::string_view kDefaultSpoolDir = "/var/lib/hoist-agent/spool";

// The plugin's answer to one of sudo's calls. to_sudo() is the only place
// sudo's numbers appear: allow 1, deny 0 (sudo logs "command not
// allowed"), error -1, usage error -2 (sudo prints its usage).
enum class Verdict { kAllow, kDeny, kError, kUsage };
int to_sudo(Verdict v);

// A failed step's verdict, in one place: refusals and an unreachable agent
// deny; malformed input from sudo and bugs are errors.
Verdict verdict_for(ErrorCode code);

// A NULL-terminated `char* const[]` as views into it (nullptr reads as
// empty). InvalidArgument past max_entries entries or for an entry longer
// than max_entry_bytes; `what` names the array in the message.
Result<std::vector<std::string_view>> read_array(const char* const* array, std::string_view what,
                                                 std::size_t max_entries = kMaxArrayEntries,
                                                 std::size_t max_entry_bytes = kMaxEntryBytes);

// "key=value" split on the first '=' (sudo: "the name field will never
// include one itself but the value might"). InvalidArgument without '='
// or with an empty key.
struct KeyValue {
  std::string_view key;
  std::string_view value;
};
Result<KeyValue> split_key_value(std::string_view entry, std::string_view what);

// The `settings` array: what the user asked for on sudo's command line.
// Options Hoist refuses are still parsed, so the refusal can name them.
struct SudoSettings {
  std::string progname;                    // "sudo" or "sudoedit"
  std::string runas_user;                  // -u as typed (a name or "#uid"); "" = not given
  std::string runas_group;                 // -g as typed; "" = not given
  bool run_shell = false;                  // -s
  bool login_shell = false;                // -i
  bool implied_shell = false;              // no command given: run the user's shell
  bool sudoedit = false;                   // -e or invoked as sudoedit
  bool preserve_environment = false;       // -E (without a list; -E=VARS arrives as env_add)
  bool preserve_groups = false;            // -P (refused)
  bool set_home = false;                   // -H (HOME is always the target's anyway)
  bool noninteractive = false;             // -n
  bool ignore_ticket = false;              // -k together with a command: authenticate afresh
  bool update_ticket = true;               // -N sets false
  bool askpass = false;                    // -A
  bool intercept_ptrace = false;           // sudo can intercept with seccomp + ptrace
  bool intercept_setid = false;            // ... and can run set-id programs while doing so
  std::optional<std::string> prompt;       // -p
  std::optional<std::uint32_t> closefrom;  // -C (>= 3)
  std::optional<std::uint32_t> max_groups;
  std::string plugin_dir;
  std::string plugin_path;
  std::vector<std::string> network_addrs;  // "addr/netmask" entries
  // Requested options Hoist refuses (see refused_option()); "" = not given.
  std::string login_class;       // -c (BSD login classes; not on Linux)
  std::string selinux_role;      // -r
  std::string selinux_type;      // -t
  std::string apparmor_profile;  // --apparmor-profile (sudo 1.9.13 has no flag; kept for later)
  std::string remote_host;       // -h host
  std::string timeout;           // -T
  std::string cmnd_chroot;       // -R
  std::string cmnd_cwd;          // -D
  friend bool operator==(const SudoSettings&, const SudoSettings&) = default;
};
Result<SudoSettings> parse_settings(std::span<const std::string_view> entries);
Result<SudoSettings> parse_settings(const char* const* settings);

// The first option in `s` that Hoist refuses, as a message for the user
// ("sudo -R (chroot) is not supported by Hoist; ..."), or nullopt.
std::optional<std::string> refused_option(const SudoSettings& s);

// The `user_info` array: who runs sudo, where. Required: user, uid, gid,
// cwd (sudo leaves cwd out when getcwd() fails; Hoist then denies).
struct UserInfo {
  std::string user;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::optional<std::uint32_t> euid;
  std::optional<std::uint32_t> egid;
  std::vector<std::uint32_t> groups;  // supplementary gids, as sudo listed them
  std::string cwd;                    // absolute
  std::string tty;                    // "" when there is none
  std::string host;
  std::uint32_t lines = 24;
  std::uint32_t cols = 80;
  std::int32_t pid = 0;
  std::int32_t ppid = 0;
  std::optional<std::int32_t> pgid;    // absent (or -1) when unknown
  std::optional<std::int32_t> sid;     // 0 when not in a job-control session
  std::optional<std::int32_t> tcpgid;  // terminal's foreground group; 0/-1 without a terminal
  std::optional<std::uint32_t> umask;  // the invoker's file creation mask
  friend bool operator==(const UserInfo&, const UserInfo&) = default;
};
Result<UserInfo> parse_user_info(std::span<const std::string_view> entries);
Result<UserInfo> parse_user_info(const char* const* user_info);

// One environment variable. Names are [A-Za-z_][A-Za-z0-9_]*; anything
// else in user_env (no '=', a name bash would not export, BASH_FUNC_x%%)
// is skipped by parse_user_env, since it is never passed on anyway.
struct EnvVar {
  std::string name;
  std::string value;
  friend bool operator==(const EnvVar&, const EnvVar&) = default;
};
bool valid_env_name(std::string_view name);
// The invoker's environment, in order, duplicates included (the policy
// takes the first, as getenv() does).
Result<std::vector<EnvVar>> parse_user_env(std::span<const std::string_view> entries);
Result<std::vector<EnvVar>> parse_user_env(const char* const* user_env);
// env_add: "VAR=value" typed on sudo's command line or listed by -E=VARS.
// Strict: an entry without '=' or with an invalid name is InvalidArgument.
Result<std::vector<EnvVar>> parse_env_add(std::span<const std::string_view> entries);
Result<std::vector<EnvVar>> parse_env_add(const char* const* env_add);

// The first value of `name` in env, or nullopt.
std::optional<std::string_view> find_env(std::span<const EnvVar> env, std::string_view name);

// The words after the plugin's path on its `Plugin` line in sudo.conf.
// Every option is known, given at most once and validated.
struct PluginOptions {
  std::string agent_socket{ipc::kDefaultAgentSocket};  // agent_socket=/abs/path (<= 107 bytes)
  std::string break_glass_file;                        // break_glass_file=/abs/path; "" = none
  std::string secure_path{kDefaultSecurePath};         // secure_path=/dir:/dir (absolute, normalised dirs)
  std::string pam_service{kDefaultPamService};         // pam_service=name ([A-Za-z0-9_.-], 1-64 bytes)
  std::string pam_confdir;                             // pam_confdir=/abs/dir; "" = the system's (/etc/pam.d)
  std::string timestamp_dir{kDefaultTimestampDir};     // timestamp_dir=/abs/dir (root-owned, 0700)
  std::string spool_dir{kDefaultSpoolDir};             // spool_dir=/abs/dir (root-owned, 0700)
  friend bool operator==(const PluginOptions&, const PluginOptions&) = default;
};
Result<PluginOptions> parse_plugin_options(std::span<const std::string_view> entries);
Result<PluginOptions> parse_plugin_options(const char* const* plugin_options);

// The target user's passwd and group facts (-u, -g), looked up by the
// caller (NSS is I/O) and passed in.
struct TargetUser {
  std::string name;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;              // the primary group, or -g's group
  std::string group;                  // -g's group name; "" = the user's primary group
  std::vector<std::uint32_t> groups;  // supplementary groups from the group database
  std::string home;
  std::string shell;  // "" reads as /bin/sh, as login(1) does
  friend bool operator==(const TargetUser&, const TargetUser&) = default;
};

// A '/'-separated absolute path without empty, "." or ".." elements
// (a trailing '/' is allowed only for "/"), at most kMaxPathBytes.
bool normalised_absolute_path(std::string_view path);

}  // namespace hoist::plugin
