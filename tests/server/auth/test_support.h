// Shared helpers for the hoist_server_auth tests.
#pragma once

#include <ostream>

#include "core/result.h"

namespace hoist {

// Readable GoogleTest output for error categories (found by ADL).
inline void PrintTo(ErrorCode c, std::ostream* os) {
  *os << to_string(c);
}

}  // namespace hoist
