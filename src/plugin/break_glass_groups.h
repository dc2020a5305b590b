// The break-glass file's text (plugin option break_glass_file), one group
// per line:
//
//   # who may elevate while hoist-agent is down
//   wheel-emergency
//   ops
//
// Blank lines and lines starting with '#' are ignored; every other line is
// exactly one group name ([A-Za-z0-9_][A-Za-z0-9_.-]*, at most 32 bytes,
// optionally ending in '$'), without blanks. Any other line makes the whole
// file invalid. Pure: the plugin (break_glass.h, which reads the file) and
// `hoist-agent doctor` (which checks it) read it with this one grammar.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace hoist::plugin {

// The groups of a break-glass file's text, in order, each once.
// InvalidArgument naming the first bad line.
Result<std::vector<std::string>> parse_break_glass(std::string_view text);

}  // namespace hoist::plugin
