#include "agent/sudo_conf.h"

#include <fmt/format.h>

#include <optional>

namespace hoist::agent {

namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool starts_with_keyword(std::string_view line, std::string_view keyword) {
  if (line.size() <= keyword.size() || !is_blank(line[keyword.size()])) return false;
  for (std::size_t i = 0; i < keyword.size(); ++i) {
    if (lower(line[i]) != lower(keyword[i])) return false;
  }
  return true;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::vector<std::string> split_blanks(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_blank(s[i])) ++i;
    const std::size_t start = i;
    while (i < s.size() && !is_blank(s[i])) ++i;
    if (i > start) out.emplace_back(s.substr(start, i - start));
  }
  return out;
}

std::optional<PluginType> type_of(std::string_view symbol) {
  if (symbol.ends_with("_policy")) return PluginType::kPolicy;
  if (symbol.ends_with("_io")) return PluginType::kIo;
  if (symbol.ends_with("_audit")) return PluginType::kAudit;
  if (symbol.ends_with("_approval")) return PluginType::kApproval;
  return std::nullopt;
}

// One physical line: [begin, end) in the text, `end` past its newline.
struct PhysicalLine {
  std::size_t begin = 0;
  std::size_t end = 0;
};

struct Parsed {
  SudoConf conf;
  std::vector<PhysicalLine> lines;
};

Result<Parsed> parse(std::string_view text) {
  if (text.size() > kMaxSudoConfBytes) {
    return invalid_argument(
        fmt::format("sudo.conf is {} bytes, more than the {} this tool reads", text.size(), kMaxSudoConfBytes));
  }
  if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
    std::size_t line = 1;
    for (std::size_t i = 0; i < nul; ++i) line += text[i] == '\n' ? 1 : 0;
    return invalid_argument(
        fmt::format("sudo.conf line {}: contains a NUL byte; sudo would read it differently", line));
  }
  Parsed out;
  for (std::size_t pos = 0; pos < text.size();) {
    const auto nl = text.find('\n', pos);
    const std::size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    out.lines.push_back({pos, end});
    pos = end;
  }

  std::string logical;
  std::size_t first = 0;
  bool continued = false;
  for (std::size_t n = 0; n < out.lines.size(); ++n) {
    std::string_view line = text.substr(out.lines[n].begin, out.lines[n].end - out.lines[n].begin);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (!continued) {
      logical.clear();
      first = n;
    }
    continued = false;
    bool comment = false;
    if (const auto hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
      comment = true;
    }
    if (!comment && !line.empty() && line.back() == '\\' && (line.size() == 1 || line[line.size() - 2] != '\\')) {
      line.remove_suffix(1);
      continued = true;
    }
    if (!continued) {
      while (!line.empty() && is_blank(line.back())) line.remove_suffix(1);
    }
    while (!line.empty() && is_blank(line.front())) line.remove_prefix(1);
    logical.append(line);
    if (continued) continue;

    if (starts_with_keyword(logical, "Path")) {
      auto fields = split_blanks(std::string_view(logical).substr(4));
      if (!fields.empty() && equals_ignoring_case(fields[0], "plugin_dir")) {
        out.conf.plugin_dir_set = true;
        out.conf.plugin_dir = fields.size() > 1 ? std::optional<std::string>(fields[1]) : std::nullopt;
      }
      continue;
    }
    if (!starts_with_keyword(logical, "Plugin")) continue;
    auto fields = split_blanks(std::string_view(logical).substr(6));
    if (fields.size() < 2) continue;  // sudo ignores it too
    const auto type = type_of(fields[0]);
    if (!type) {
      return invalid_argument(
          fmt::format("sudo.conf line {}: cannot tell what kind of plugin \"{}\" is (known names end in _policy, _io, "
                      "_audit or _approval); remove or comment out that line first",
                      first + 1, fields[0]));
    }
    SudoConfPlugin plugin;
    plugin.first_line = first + 1;
    plugin.last_line = n + 1;
    plugin.type = *type;
    plugin.symbol = std::move(fields[0]);
    plugin.path = std::move(fields[1]);
    plugin.options.assign(std::make_move_iterator(fields.begin() + 2), std::make_move_iterator(fields.end()));
    if (plugin.type == PluginType::kPolicy) {
      if (const auto* earlier = out.conf.policy()) {
        return invalid_argument(fmt::format(
            "sudo.conf lines {} and {} both name a policy plugin ({} and {}); sudo loads only one: remove one first",
            earlier->first_line, plugin.first_line, earlier->symbol, plugin.symbol));
      }
      out.conf.policy_index = static_cast<int>(out.conf.plugins.size());
    }
    out.conf.plugins.push_back(std::move(plugin));
  }
  if (continued) {
    return invalid_argument(
        fmt::format("sudo.conf line {}: the file ends inside a continued line (a final '\\'); remove the '\\' first",
                    out.lines.size()));
  }
  return out;
}

bool safe_field(std::string_view field) {
  if (field.empty()) return false;
  for (const char c : field) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '#' || c == '\\') return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> SudoConf::plugin_file(const SudoConfPlugin& plugin) const {
  if (plugin.path.starts_with('/')) return plugin.path;
  if (!plugin_dir_set) return std::string(kDefaultSudoPluginDir) + plugin.path;
  if (!plugin_dir) return std::nullopt;
  return *plugin_dir + plugin.path;
}

Result<SudoConf> parse_sudo_conf(std::string_view text) {
  auto parsed = parse(text);
  if (!parsed) return parsed.error();
  return std::move(parsed->conf);
}

Result<std::string> format_hoist_plugin_line(const HoistPluginLine& line) {
  if (!line.plugin_path.starts_with('/') || !safe_field(line.plugin_path)) {
    return invalid_argument(fmt::format(
        "the plugin path \"{}\" must be absolute, without blanks, '#', '\\' or control characters", line.plugin_path));
  }
  std::string out = fmt::format("Plugin {} {}", kHoistPolicySymbol, line.plugin_path);
  for (const auto& option : line.options) {
    const auto eq = option.find('=');
    if (!safe_field(option) || eq == std::string::npos || eq == 0) {
      return invalid_argument(fmt::format(
          "the plugin option \"{}\" must be KEY=VALUE without blanks, '#', '\\' or control characters", option));
    }
    out += ' ';
    out += option;
  }
  return out;
}

Result<SudoConfEdit> with_hoist_policy(std::string_view text, const HoistPluginLine& line) {
  auto formatted = format_hoist_plugin_line(line);
  if (!formatted) return formatted.error();
  auto parsed = parse(text);
  if (!parsed) return parsed.error();
  SudoConfEdit edit;
  if (const auto* policy = parsed->conf.policy()) {
    const std::size_t begin = parsed->lines[policy->first_line - 1].begin;
    const std::size_t end = parsed->lines[policy->last_line - 1].end;
    const std::string_view old = text.substr(begin, end - begin);
    const bool had_newline = old.ends_with('\n');
    const std::string replacement = *formatted + (had_newline ? "\n" : "");
    edit.changed = old != replacement;
    edit.text.reserve(text.size() + replacement.size());
    edit.text.append(text.substr(0, begin)).append(replacement).append(text.substr(end));
  } else {
    edit.changed = true;
    edit.text.assign(text);
    if (!edit.text.empty() && !edit.text.ends_with('\n')) edit.text += '\n';
    edit.text += *formatted;
    edit.text += '\n';
  }
  return edit;
}

Result<SudoConfEdit> without_hoist_policy(std::string_view text) {
  auto parsed = parse(text);
  if (!parsed) return parsed.error();
  SudoConfEdit edit;
  if (!parsed->conf.loads_hoist()) {
    edit.text.assign(text);
    return edit;
  }
  const auto* policy = parsed->conf.policy();
  const std::size_t begin = parsed->lines[policy->first_line - 1].begin;
  const std::size_t end = parsed->lines[policy->last_line - 1].end;
  edit.changed = true;
  edit.text.reserve(text.size());
  edit.text.append(text.substr(0, begin)).append(text.substr(end));
  return edit;
}

}  // namespace hoist::agent
