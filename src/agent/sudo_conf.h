// /etc/sudo.conf as text: which policy plugin it loads, and the same text
// with Hoist's policy line put in or taken out. Pure: no I/O, no globals.
// plugin_install.h does the file work around it.
//
// Lines are read as sudo 1.9 reads them (lib/util/parseln.c and
// sudo_conf.c): a '#' anywhere starts a comment; a line ending in one '\'
// (and not in a comment) continues on the next; blanks are trimmed; the
// keyword (`Plugin`, `Path`, `Set`, `Debug`) is matched without regard to
// case and must be followed by a blank; `Plugin SYMBOL PATH [OPTION...]`
// splits on blanks. With no policy Plugin line sudo loads sudoers (its
// policy, audit and, without an I/O line, I/O plugins).
//
// MUST: every byte of every line other than the one policy Plugin line is
// kept as it was (comments such as `#Plugin sudoers_policy sudoers.so`,
// Path, Set, Debug and the other Plugin lines).
// MUST: text that cannot be read with certainty is refused, never guessed
// at: a NUL byte, a file that ends inside a continued line, two policy
// lines, a Plugin whose type cannot be told from its symbol name, more
// than kMaxSudoConfBytes. Refusals are InvalidArgument and name the line.
// MUST: the Hoist line written contains no blank, '#', '\' or control
// character inside a field, so sudo splits it into exactly the fields given.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace hoist::agent {

inline constexpr std::size_t kMaxSudoConfBytes = 1024 * 1024;
inline constexpr std::string_view kHoistPolicySymbol = "hoist_policy";
inline constexpr std::string_view kSudoersPolicySymbol = "sudoers_policy";

// What a Plugin line's symbol says it is. sudo learns the type from the
// loaded struct; Hoist can only go by the naming convention every known
// plugin follows (sudoers_policy, sudoers_io, sudoers_audit, python_approval).
enum class PluginType { kPolicy, kIo, kAudit, kApproval };

struct SudoConfPlugin {
  std::size_t first_line = 0;  // 1-based physical lines, continuations included
  std::size_t last_line = 0;
  PluginType type = PluginType::kPolicy;
  std::string symbol;
  std::string path;
  std::vector<std::string> options;
  friend bool operator==(const SudoConfPlugin&, const SudoConfPlugin&) = default;
};

// Where sudo looks for a plugin named without a path when sudo.conf sets
// no `Path plugin_dir` (Debian's build).
inline constexpr std::string_view kDefaultSudoPluginDir = "/usr/libexec/sudo/";

struct SudoConf {
  std::vector<SudoConfPlugin> plugins;  // in file order
  int policy_index = -1;                // into plugins; -1: none (sudo's default, sudoers)
  // The last `Path plugin_dir` line (the name in any case, as sudo reads
  // it): unset, or its value, or nullopt for a line without one (sudo
  // then finds no plugin named without a path).
  bool plugin_dir_set = false;
  std::optional<std::string> plugin_dir;

  // The file sudo loads for `plugin`: its path when absolute, else the
  // plugin directory and the path joined as sudo joins them (with nothing
  // between: "Path plugin_dir /opt/x" and "a.so" give "/opt/xa.so").
  // nullopt when sudo would find none.
  [[nodiscard]] std::optional<std::string> plugin_file(const SudoConfPlugin& plugin) const;

  [[nodiscard]] const SudoConfPlugin* policy() const {
    return policy_index < 0 ? nullptr : &plugins[static_cast<std::size_t>(policy_index)];
  }
  [[nodiscard]] bool loads_hoist() const { return policy() != nullptr && policy()->symbol == kHoistPolicySymbol; }
};

Result<SudoConf> parse_sudo_conf(std::string_view text);

// The policy line Hoist writes: `Plugin hoist_policy PATH OPTION...`.
struct HoistPluginLine {
  std::string plugin_path;           // absolute
  std::vector<std::string> options;  // KEY=VALUE each
};
// The line without its newline. InvalidArgument when a field could not be
// read back as written (see the MUST above) or the path is not absolute.
Result<std::string> format_hoist_plugin_line(const HoistPluginLine& line);

struct SudoConfEdit {
  std::string text;      // the whole new file
  bool changed = false;  // false: `text` is the input, nothing to write
};

// Replaces the policy Plugin line (sudoers', an older Hoist line, any other)
// by Hoist's; without one, appends Hoist's line at the end.
Result<SudoConfEdit> with_hoist_policy(std::string_view text, const HoistPluginLine& line);

// Removes Hoist's policy line, so sudo falls back to its built-in default
// policy, sudoers (as on a fresh install: sudoers' policy, audit and I/O
// plugins). Unchanged when Hoist's line is not there.
Result<SudoConfEdit> without_hoist_policy(std::string_view text);

}  // namespace hoist::agent
