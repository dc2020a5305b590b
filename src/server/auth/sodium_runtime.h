// Internal to hoist_server_auth: libsodium's one-time initialisation.
#pragma once

namespace hoist::auth::detail {

// Runs sodium_init() once per process (thread-safe) and reports whether it
// succeeded. Every function of this library that uses libsodium asks first
// and fails closed when this is false.
bool sodium_ready() noexcept;

}  // namespace hoist::auth::detail
