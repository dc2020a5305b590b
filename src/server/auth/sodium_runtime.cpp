#include "server/auth/sodium_runtime.h"

#include <sodium.h>

namespace hoist::auth::detail {

bool sodium_ready() noexcept {
  // sodium_init() returns 0 the first time, 1 when already initialised and
  // -1 on failure; a function-local static makes the call once and race-free.
  static const bool kReady = sodium_init() >= 0;
  return kReady;
}

}  // namespace hoist::auth::detail
