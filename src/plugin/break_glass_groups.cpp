#include "plugin/break_glass_groups.h"

#include <algorithm>

namespace hoist::plugin {

namespace {

bool valid_group_name(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    const bool inner = i > 0 && (c == '.' || c == '-');
    const bool dollar = i > 0 && i + 1 == name.size() && c == '$';
    if (!alnum && !inner && !dollar) return false;
  }
  return true;
}

}  // namespace

Result<std::vector<std::string>> parse_break_glass(std::string_view text) {
  std::vector<std::string> groups;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    if (!valid_group_name(line)) {
      return invalid_argument("line " + std::to_string(line_no) +
                              " is not a group name (one name per line, no blanks; '#' starts a comment line)");
    }
    if (std::find(groups.begin(), groups.end(), line) == groups.end()) groups.emplace_back(line);
  }
  return groups;
}

}  // namespace hoist::plugin
