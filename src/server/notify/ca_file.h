// A channel's ca_file (docs/notifications.md): the PEM file on hoistd's
// machine that a channel's receiver must verify against. Every kind reads
// it here, once, when hoistd makes the channel's sender.
//
// MUST: whatever makes a ca_file unusable (no such file, a directory, a
// device or FIFO, no permission, too large, not PEM, no certificate in it)
// the error is the same, kUnusableCaFile: it reaches admins in a
// delivery's last_error and auditors and SIEMs with a re-drive's event, and
// must not tell whether a path exists or is readable on hoistd's machine.
// The precise reason goes to hoistd's log only (ca_file_problem).
// MUST: only a regular file is opened for reading (the path is opened
// with O_PATH and checked first: a FIFO's writer is not released, a
// device's driver does not run), without blocking, and at most
// kMaxCaFileBytes of it (a device such as /dev/zero cannot fill memory).
// MUST: the text read is what the receiver's client verifies with; the
// path is never opened again (a swap for a FIFO cannot hold a sender up).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "net/client/https_client.h"

namespace hoist::notify {

inline constexpr std::string_view kUnusableCaFile = "ca_file is not a readable file of PEM certificates";
// The system's whole bundle is about 200 KiB.
inline constexpr std::size_t kMaxCaFileBytes = std::size_t{1} << 20;

// InvalidArgument with kUnusableCaFile.
Error unusable_ca_file();

// The PEM text of the file at `path` when it is a regular file hoistd can
// read, of at most kMaxCaFileBytes, with at least one certificate and
// nothing OpenSSL cannot read; unusable_ca_file() otherwise, the precise
// reason in `*problem` when given.
Result<std::string> read_ca_file(const std::string& path, std::string* problem = nullptr);

// The HTTPS client of a channel's receiver at `origin` (https://HOST[:PORT]
// of a URL check_webhook_url passed), verified against `ca_file`
// (read_ca_file first: unusable_ca_file() whatever the reason) or, without
// one, the system's CAs; `timeout` for the connect, the handshake and each
// exchange.
Result<std::unique_ptr<net::HttpsClient>> receiver_client(const std::string& origin,
                                                          const std::optional<std::string>& ca_file,
                                                          std::chrono::seconds timeout, std::size_t max_response_bytes);

// Why the ca_file of a channel's config (any kind's JSON text) cannot be
// used ("PATH: the reason"), for hoistd's log; nullopt when the config
// names none or it can be.
std::optional<std::string> ca_file_problem(std::string_view config);

}  // namespace hoist::notify
