#include "plugin/sudo_args.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <exception>
#include <limits>
#include <utility>

namespace hoist::plugin {
namespace {

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 64)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '"' || c == '\\') {
      static constexpr std::string_view kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  if (s.size() > 64) out += "...";
  out += '"';
  return out;
}

Error bad_value(std::string_view what, std::string_view key, std::string_view value, std::string_view expected) {
  return invalid_argument(std::string(what) + " key \"" + std::string(key) + "\" has the value " + quoted(value) +
                          "; expected " + std::string(expected));
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Decimal, digits only (no sign, no blanks), at most `max`.
std::optional<std::uint64_t> parse_decimal(std::string_view s, std::uint64_t max) {
  if (!all_digits(s) || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  if (v > max) return std::nullopt;
  return v;
}

// A uid or gid: 0 .. 2^32-2; (uid_t)-1 means "no id" to the kernel.
Result<std::uint32_t> parse_id(std::string_view what, std::string_view key, std::string_view value) {
  auto v = parse_decimal(value, std::numeric_limits<std::uint32_t>::max() - 1);
  if (!v) return bad_value(what, key, value, "a decimal id below 4294967295");
  return static_cast<std::uint32_t>(*v);
}

Result<std::uint32_t> parse_u32(std::string_view what, std::string_view key, std::string_view value, std::uint32_t min,
                                std::uint32_t max) {
  auto v = parse_decimal(value, max);
  if (!v || *v < min) {
    return bad_value(what, key, value, "a decimal number from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return static_cast<std::uint32_t>(*v);
}

// A pid-like int as sudo prints it with %d: -1 or 0 .. INT32_MAX.
Result<std::int32_t> parse_pid(std::string_view what, std::string_view key, std::string_view value, std::int32_t min) {
  std::int32_t v = 0;
  if (value == "-1") {
    v = -1;
  } else if (auto n = parse_decimal(value, std::numeric_limits<std::int32_t>::max())) {
    v = static_cast<std::int32_t>(*n);
  } else {
    return bad_value(what, key, value, "a decimal process id");
  }
  if (v < min) return bad_value(what, key, value, "a process id of at least " + std::to_string(min));
  return v;
}

// sudo_strtobool()'s words, as sudoers accepts them.
Result<bool> parse_bool(std::string_view what, std::string_view key, std::string_view value) {
  std::string lower;
  for (char c : value.substr(0, 8)) lower += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  if (value.size() <= 5) {
    if (lower == "true" || lower == "yes" || lower == "on" || lower == "1") return true;
    if (lower == "false" || lower == "no" || lower == "off" || lower == "0") return false;
  }
  return bad_value(what, key, value, "true or false");
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// A name-like value: 1..max bytes without control characters.
Result<std::string> parse_name(std::string_view what, std::string_view key, std::string_view value,
                               std::size_t max = ipc::kMaxNameBytes) {
  if (value.empty() || value.size() > max || has_control(value)) {
    return bad_value(what, key, value, "1 to " + std::to_string(max) + " bytes without control characters");
  }
  return std::string(value);
}

Result<std::string> parse_path(std::string_view what, std::string_view key, std::string_view value) {
  if (value.empty() || value.front() != '/' || value.size() > ipc::kMaxPathBytes || has_control(value)) {
    return bad_value(what, key, value, "an absolute path");
  }
  return std::string(value);
}

// Known keys seen so far: a known key given twice is refused, because sudo
// never does that and the two values cannot both be meant.
class SeenKeys {
 public:
  explicit SeenKeys(std::string_view what) : what_(what) {}
  Status once(std::string_view key) {
    if (std::find(seen_.begin(), seen_.end(), key) != seen_.end()) {
      return invalid_argument(std::string(what_) + " key \"" + std::string(key) + "\" is given more than once");
    }
    seen_.push_back(key);
    return {};
  }
  bool contains(std::string_view key) const { return std::find(seen_.begin(), seen_.end(), key) != seen_.end(); }

 private:
  std::string_view what_;
  std::vector<std::string_view> seen_;
};

// No exception leaves a public function: the C ABI layer calls these.
template <class T, class F>
Result<T> guarded(F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return internal_error("out of memory while reading sudo's arguments");
  } catch (const std::exception& e) {
    return internal_error(std::string("reading sudo's arguments failed (this is a bug): ") + e.what());
  } catch (...) {
    return internal_error("reading sudo's arguments failed (this is a bug)");
  }
}

constexpr std::string_view kSettings = "sudo settings";
constexpr std::string_view kUserInfo = "sudo user_info";
constexpr std::string_view kOptions = "plugin option";

// Applies one settings entry; false for a key this version does not know.
Result<bool> parse_setting(SudoSettings& s, std::string_view key, std::string_view value) {
  constexpr std::string_view w = kSettings;
  static constexpr std::array<std::pair<std::string_view, bool SudoSettings::*>, 13> kBools{{
      {"run_shell", &SudoSettings::run_shell},
      {"login_shell", &SudoSettings::login_shell},
      {"implied_shell", &SudoSettings::implied_shell},
      {"sudoedit", &SudoSettings::sudoedit},
      {"preserve_environment", &SudoSettings::preserve_environment},
      {"preserve_groups", &SudoSettings::preserve_groups},
      {"set_home", &SudoSettings::set_home},
      {"noninteractive", &SudoSettings::noninteractive},
      {"ignore_ticket", &SudoSettings::ignore_ticket},
      {"update_ticket", &SudoSettings::update_ticket},
      {"askpass", &SudoSettings::askpass},
      {"intercept_ptrace", &SudoSettings::intercept_ptrace},
      {"intercept_setid", &SudoSettings::intercept_setid},
  }};
  for (const auto& [name, member] : kBools) {
    if (key == name) {
      auto b = parse_bool(w, key, value);
      if (!b) return b.error();
      s.*member = *b;
      return true;
    }
  }
  static constexpr std::array<std::pair<std::string_view, std::string SudoSettings::*>, 8> kRefused{{
      {"login_class", &SudoSettings::login_class},
      {"selinux_role", &SudoSettings::selinux_role},
      {"selinux_type", &SudoSettings::selinux_type},
      {"apparmor_profile", &SudoSettings::apparmor_profile},
      {"remote_host", &SudoSettings::remote_host},
      {"timeout", &SudoSettings::timeout},
      {"cmnd_chroot", &SudoSettings::cmnd_chroot},
      {"cmnd_cwd", &SudoSettings::cmnd_cwd},
  }};
  for (const auto& [name, member] : kRefused) {
    if (key == name) {
      // Kept only to name it in the refusal, so "" (which would read as
      // "not given") is refused here already.
      auto v = parse_name(w, key, value, ipc::kMaxPathBytes);
      if (!v) return v.error();
      s.*member = std::move(*v);
      return true;
    }
  }
  static constexpr std::array<std::pair<std::string_view, std::string SudoSettings::*>, 3> kNames{{
      {"progname", &SudoSettings::progname},
      {"runas_user", &SudoSettings::runas_user},
      {"runas_group", &SudoSettings::runas_group},
  }};
  for (const auto& [name, member] : kNames) {
    if (key == name) {
      auto v = parse_name(w, key, value);
      if (!v) return v.error();
      s.*member = std::move(*v);
      return true;
    }
  }
  if (key == "plugin_dir" || key == "plugin_path") {
    auto v = parse_path(w, key, value);
    if (!v) return v.error();
    (key == "plugin_dir" ? s.plugin_dir : s.plugin_path) = std::move(*v);
    return true;
  }
  if (key == "prompt") {
    // An empty prompt is allowed (sudo -p '').
    if (value.size() > ipc::kMaxTextBytes) return bad_value(w, key, value, "a prompt of at most 2000 bytes");
    s.prompt = std::string(value);
    return true;
  }
  if (key == "closefrom") {
    auto n = parse_u32(w, key, value, 3, std::numeric_limits<std::int32_t>::max());
    if (!n) return n.error();
    s.closefrom = *n;
    return true;
  }
  if (key == "max_groups") {
    auto n = parse_u32(w, key, value, 1, kMaxGroups);
    if (!n) return n.error();
    s.max_groups = *n;
    return true;
  }
  if (key == "network_addrs") {
    std::size_t pos = 0;
    while (pos < value.size()) {
      const std::size_t end = std::min(value.find(' ', pos), value.size());
      if (end > pos) {
        if (s.network_addrs.size() >= kMaxArrayEntries) return bad_value(w, key, value, "at most 4096 addresses");
        s.network_addrs.emplace_back(value.substr(pos, end - pos));
      }
      pos = end + 1;
    }
    return true;
  }
  return false;  // bsdauth_type, debug_flags and keys of later sudo versions
}

Result<SudoSettings> parse_settings_unguarded(std::span<const std::string_view> entries) {
  if (entries.size() > kMaxArrayEntries) return invalid_argument("sudo settings have more than 4096 entries");
  SudoSettings s;
  SeenKeys seen(kSettings);
  for (std::string_view entry : entries) {
    auto kv = split_key_value(entry, kSettings);
    if (!kv) return kv.error();
    auto known = parse_setting(s, kv->key, kv->value);
    if (!known) return known.error();
    if (*known) {
      if (auto st = seen.once(kv->key); !st) return st.error();
    }
  }
  return s;
}

// Applies one user_info entry; false for a key this version does not know.
Result<bool> parse_user_info_entry(UserInfo& u, std::string_view key, std::string_view value) {
  constexpr std::string_view w = kUserInfo;
  if (key == "user") {
    auto v = parse_name(w, key, value);
    if (!v) return v.error();
    u.user = std::move(*v);
    return true;
  }
  if (key == "uid" || key == "gid") {
    auto id = parse_id(w, key, value);
    if (!id) return id.error();
    (key == "uid" ? u.uid : u.gid) = *id;
    return true;
  }
  if (key == "euid" || key == "egid") {
    auto id = parse_id(w, key, value);
    if (!id) return id.error();
    (key == "euid" ? u.euid : u.egid) = *id;
    return true;
  }
  if (key == "groups") {
    std::size_t pos = 0;
    while (pos <= value.size() && !value.empty()) {
      const std::size_t end = std::min(value.find(',', pos), value.size());
      auto id = parse_id(w, key, value.substr(pos, end - pos));
      if (!id) return bad_value(w, key, value, "a comma-separated list of decimal group ids");
      if (u.groups.size() >= kMaxGroups) return bad_value(w, key, value, "at most 65536 groups");
      u.groups.push_back(*id);
      pos = end + 1;
    }
    return true;
  }
  if (key == "cwd") {
    auto v = parse_path(w, key, value);
    if (!v) return v.error();
    u.cwd = std::move(*v);
    return true;
  }
  if (key == "tty") {
    // "tty=" (older sudo) and an absent key both mean: no terminal.
    if (!value.empty()) {
      auto v = parse_path(w, key, value);
      if (!v) return v.error();
      if (v->size() > ipc::kMaxNameBytes) return bad_value(w, key, value, "a terminal path of at most 256 bytes");
      u.tty = std::move(*v);
    }
    return true;
  }
  if (key == "host") {
    auto v = parse_name(w, key, value);
    if (!v) return v.error();
    u.host = std::move(*v);
    return true;
  }
  if (key == "lines" || key == "cols") {
    auto n = parse_u32(w, key, value, 0, 1u << 20);
    if (!n) return n.error();
    (key == "lines" ? u.lines : u.cols) = *n;
    return true;
  }
  if (key == "pid" || key == "ppid") {
    auto n = parse_pid(w, key, value, key == "pid" ? 1 : 0);
    if (!n) return n.error();
    (key == "pid" ? u.pid : u.ppid) = *n;
    return true;
  }
  if (key == "pgid" || key == "sid" || key == "tcpgid") {
    auto n = parse_pid(w, key, value, -1);
    if (!n) return n.error();
    auto& out = key == "pgid" ? u.pgid : key == "sid" ? u.sid : u.tcpgid;
    if (*n != -1) out = *n;
    return true;
  }
  if (key == "umask") {
    // sudo prints it as "0%o".
    if (value.empty() || value.size() > 5 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '7'; })) {
      return bad_value(w, key, value, "an octal file mode mask");
    }
    std::uint32_t m = 0;
    for (char c : value) m = m * 8 + static_cast<std::uint32_t>(c - '0');
    if (m > 0777) return bad_value(w, key, value, "an octal file mode mask of at most 0777");
    u.umask = m;
    return true;
  }
  return false;  // rlimit_* and keys of later sudo versions
}

Result<UserInfo> parse_user_info_unguarded(std::span<const std::string_view> entries) {
  if (entries.size() > kMaxArrayEntries) return invalid_argument("sudo user_info has more than 4096 entries");
  UserInfo u;
  SeenKeys seen(kUserInfo);
  for (std::string_view entry : entries) {
    auto kv = split_key_value(entry, kUserInfo);
    if (!kv) return kv.error();
    auto known = parse_user_info_entry(u, kv->key, kv->value);
    if (!known) return known.error();
    if (*known) {
      if (auto st = seen.once(kv->key); !st) return st.error();
    }
  }
  for (std::string_view required : {"user", "uid", "gid", "cwd"}) {
    if (!seen.contains(required)) {
      return invalid_argument("sudo user_info has no \"" + std::string(required) + "\"" +
                              (required == "cwd" ? " (sudo could not read the current directory; cd to a directory "
                                                   "you can read and try again)"
                                                 : " (this sudo is not supported)"));
    }
  }
  return u;
}

Result<std::vector<EnvVar>> parse_env(std::span<const std::string_view> entries, bool strict) {
  constexpr std::string_view what = "environment variable";
  if (entries.size() > kMaxArrayEntries) {
    return invalid_argument("the environment has more than 4096 variables");
  }
  std::vector<EnvVar> out;
  out.reserve(entries.size());
  for (std::string_view entry : entries) {
    const std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos || !valid_env_name(entry.substr(0, eq))) {
      if (strict) {
        return invalid_argument(std::string(what) + " " + quoted(entry) +
                                " is not of the form NAME=value with NAME made of letters, digits and '_'");
      }
      continue;
    }
    out.push_back({std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1))});
  }
  return out;
}

Result<PluginOptions> parse_plugin_options_unguarded(std::span<const std::string_view> entries) {
  if (entries.size() > 64) return invalid_argument("more than 64 plugin options in sudo.conf");
  PluginOptions o;
  SeenKeys seen(kOptions);
  for (std::string_view entry : entries) {
    auto kv = split_key_value(entry, kOptions);
    if (!kv) return kv.error();
    const auto [key, value] = *kv;
    if (key == "agent_socket" || key == "break_glass_file" || key == "pam_confdir" || key == "timestamp_dir" ||
        key == "spool_dir") {
      if (!normalised_absolute_path(value) || has_control(value)) {
        return bad_value(kOptions, key, value, "an absolute path without \".\", \"..\" or empty elements");
      }
      if (key == "agent_socket" && value.size() > kMaxSocketPathBytes) {
        return bad_value(kOptions, key, value, "a socket path of at most 107 bytes");
      }
      std::string& out = key == "agent_socket"       ? o.agent_socket
                         : key == "break_glass_file" ? o.break_glass_file
                         : key == "pam_confdir"      ? o.pam_confdir
                         : key == "timestamp_dir"    ? o.timestamp_dir
                                                     : o.spool_dir;
      out = std::string(value);
    } else if (key == "pam_service") {
      const bool ok = !value.empty() && value.size() <= 64 && value.front() != '.' &&
                      std::all_of(value.begin(), value.end(), [](char c) {
                        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                               c == '-' || c == '.';
                      });
      if (!ok) return bad_value(kOptions, key, value, "a PAM service name of letters, digits, '_', '-' and '.'");
      o.pam_service = std::string(value);
    } else if (key == "secure_path") {
      std::size_t pos = 0;
      bool ok = !value.empty() && value.size() <= ipc::kMaxPathBytes;
      while (ok && pos <= value.size()) {
        const std::size_t end = std::min(value.find(':', pos), value.size());
        ok = normalised_absolute_path(value.substr(pos, end - pos)) && !has_control(value.substr(pos, end - pos));
        pos = end + 1;
      }
      if (!ok) {
        return bad_value(kOptions, key, value,
                         "a ':'-separated list of absolute directories without \".\", \"..\" or empty elements");
      }
      o.secure_path = std::string(value);
    } else {
      return invalid_argument("unknown plugin option \"" + std::string(key) +
                              "\" in sudo.conf (known: agent_socket, break_glass_file, pam_confdir, pam_service, "
                              "secure_path, spool_dir, timestamp_dir)");
    }
    if (auto st = seen.once(key); !st) return st.error();
  }
  return o;
}

}  // namespace

int to_sudo(Verdict v) {
  switch (v) {
    case Verdict::kAllow: return 1;
    case Verdict::kDeny: return 0;
    case Verdict::kError: return -1;
    case Verdict::kUsage: return -2;
  }
  return -1;
}

Verdict verdict_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kInternal: return Verdict::kError;
    case ErrorCode::kNotFound:
    case ErrorCode::kPermissionDenied:
    case ErrorCode::kUnauthenticated:
    case ErrorCode::kConflict:
    case ErrorCode::kRateLimited:
    case ErrorCode::kUnavailable: return Verdict::kDeny;
  }
  return Verdict::kError;
}

Result<std::vector<std::string_view>> read_array(const char* const* array, std::string_view what,
                                                 std::size_t max_entries, std::size_t max_entry_bytes) {
  return guarded<std::vector<std::string_view>>([&]() -> Result<std::vector<std::string_view>> {
    std::vector<std::string_view> out;
    if (array == nullptr) return out;
    for (std::size_t i = 0; array[i] != nullptr; ++i) {
      if (i >= max_entries) {
        return invalid_argument(std::string(what) + " has more than " + std::to_string(max_entries) + " entries");
      }
      const std::size_t n = strnlen(array[i], max_entry_bytes + 1);
      if (n > max_entry_bytes) {
        return invalid_argument(std::string(what) + " entry " + std::to_string(i) + " is longer than " +
                                std::to_string(max_entry_bytes) + " bytes");
      }
      out.emplace_back(array[i], n);
    }
    return out;
  });
}

Result<KeyValue> split_key_value(std::string_view entry, std::string_view what) {
  const std::size_t eq = entry.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return invalid_argument(std::string(what) + " entry " + quoted(entry) + " is not of the form key=value");
  }
  return KeyValue{entry.substr(0, eq), entry.substr(eq + 1)};
}

}  // namespace hoist::plugin

namespace hoist::plugin {

Result<SudoSettings> parse_settings(std::span<const std::string_view> entries) {
  return guarded<SudoSettings>([&] { return parse_settings_unguarded(entries); });
}

Result<SudoSettings> parse_settings(const char* const* settings) {
  auto entries = read_array(settings, kSettings);
  if (!entries) return entries.error();
  return parse_settings(*entries);
}

std::optional<std::string> refused_option(const SudoSettings& s) {
  try {
    const std::pair<const std::string*, std::string_view> refused[] = {
        {&s.cmnd_chroot, "sudo -R (run in another root directory) is not supported by Hoist"},
        {&s.cmnd_cwd, "sudo -D (run in another directory) is not supported by Hoist; cd there first"},
        {&s.login_class, "sudo -c (BSD login class) is not supported by Hoist"},
        {&s.selinux_role, "sudo -r (SELinux role) is not supported by Hoist"},
        {&s.selinux_type, "sudo -t (SELinux type) is not supported by Hoist"},
        {&s.apparmor_profile, "an AppArmor profile is not supported by Hoist"},
        {&s.remote_host, "sudo -h HOST (run on a remote host) is not supported by Hoist"},
        {&s.timeout, "sudo -T (command timeout) is not supported by Hoist; a grant's time limit applies"},
    };
    for (const auto& [value, message] : refused) {
      if (!value->empty()) return std::string(message);
    }
    if (s.preserve_groups) {
      return "sudo -P (keep your groups) is not supported by Hoist; the command runs with the target user's groups";
    }
    return std::nullopt;
  } catch (...) {
    return "sudo's options could not be checked (out of memory)";
  }
}

Result<UserInfo> parse_user_info(std::span<const std::string_view> entries) {
  return guarded<UserInfo>([&] { return parse_user_info_unguarded(entries); });
}

Result<UserInfo> parse_user_info(const char* const* user_info) {
  auto entries = read_array(user_info, kUserInfo);
  if (!entries) return entries.error();
  return parse_user_info(*entries);
}

bool valid_env_name(std::string_view name) {
  if (name.empty() || name.size() > ipc::kMaxNameBytes) return false;
  const auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!alpha(name.front())) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

Result<std::vector<EnvVar>> parse_user_env(std::span<const std::string_view> entries) {
  return guarded<std::vector<EnvVar>>([&] { return parse_env(entries, false); });
}

Result<std::vector<EnvVar>> parse_user_env(const char* const* user_env) {
  auto entries = read_array(user_env, "the user's environment");
  if (!entries) return entries.error();
  return parse_user_env(*entries);
}

Result<std::vector<EnvVar>> parse_env_add(std::span<const std::string_view> entries) {
  return guarded<std::vector<EnvVar>>([&] { return parse_env(entries, true); });
}

Result<std::vector<EnvVar>> parse_env_add(const char* const* env_add) {
  auto entries = read_array(env_add, "the variables given on sudo's command line");
  if (!entries) return entries.error();
  return parse_env_add(*entries);
}

std::optional<std::string_view> find_env(std::span<const EnvVar> env, std::string_view name) {
  for (const auto& v : env) {
    if (v.name == name) return std::string_view(v.value);
  }
  return std::nullopt;
}

Result<PluginOptions> parse_plugin_options(std::span<const std::string_view> entries) {
  return guarded<PluginOptions>([&] { return parse_plugin_options_unguarded(entries); });
}

Result<PluginOptions> parse_plugin_options(const char* const* plugin_options) {
  auto entries = read_array(plugin_options, "the plugin options in sudo.conf", 64, ipc::kMaxPathBytes + 64);
  if (!entries) return entries.error();
  return parse_plugin_options(*entries);
}

bool normalised_absolute_path(std::string_view path) {
  if (path.empty() || path.front() != '/' || path.size() > ipc::kMaxPathBytes) return false;
  if (path == "/") return true;
  std::size_t pos = 1;
  while (pos <= path.size()) {
    const std::size_t end = std::min(path.find('/', pos), path.size());
    const std::string_view element = path.substr(pos, end - pos);
    if (element.empty() || element == "." || element == "..") return false;
    pos = end + 1;
  }
  return true;
}

}  // namespace hoist::plugin
