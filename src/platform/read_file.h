#pragma once

#include <cstddef>
#include <string>

#include "core/result.h"

namespace hoist::platform {

// Reads a regular file of at most max_bytes. NotFound when it does not
// exist, InvalidArgument when it is not a regular file or too large,
// Unavailable for other read errors; messages name the path.
Result<std::string> read_small_file(const std::string& path, std::size_t max_bytes);

}  // namespace hoist::platform
