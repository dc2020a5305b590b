// Lexical path handling for rules and facts. Symlinks are the platform
// layer's job (realpath on the real file system); here a path is only text,
// and a rule compares normalised absolute paths component by component, so
// "/usr/bin/../../tmp/x" or "/usr/binx" cannot pass for something under
// "/usr/bin".
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace hoist {

// Collapses repeated '/', "." and ".." (".." at the root stays at the root),
// and removes a trailing '/'. Fails for relative paths, empty paths and paths
// containing NUL.
Result<std::string> normalize_absolute_path(std::string_view path);

// True when path is already what normalize_absolute_path would return.
bool is_normalized_absolute(std::string_view path);

// True when path equals folder or lies below it. Both must be normalised.
bool path_is_within(std::string_view path, std::string_view folder);

// "/usr/bin/apt" -> "/usr/bin"; "/usr" -> "/"; "/" -> ""; "tool" -> "".
std::string_view parent_path(std::string_view normalized);

}  // namespace hoist
