// The one page size limit every listing in the store shares.
#pragma once

#include <cstddef>

namespace hoist::store {

// A listing returns at most this many records; a larger limit is refused.
inline constexpr std::size_t kMaxPage = 1000;

}  // namespace hoist::store
