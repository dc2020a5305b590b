// Where `hoist` keeps what `hoist login` obtained: the server's URL, how to
// trust it (a pinned CA fingerprint and/or a CA file) and an API token.
//
// The file is $HOIST_CLI_CONFIG, else $XDG_CONFIG_HOME/hoist/cli.json, else
// ~/.config/hoist/cli.json. It holds a bearer secret, so it is written 0600
// in a 0700 directory, atomically, and refused (like ssh refuses a private
// key) when it is a symlink, not the caller's, or readable by others.
//
// For scripts, the environment overrides the file: HOIST_SERVER,
// HOIST_CA_FINGERPRINT, HOIST_CA_FILE and HOIST_TOKEN.
#pragma once

#include <optional>
#include <string>

#include "core/result.h"

namespace hoist::cli {

struct Credentials {
  std::string server;  // https://host:port
  std::optional<std::string> ca_fingerprint;
  std::optional<std::string> ca_file;
  std::string user;
  std::string role;
  std::string token;  // hoist_api_<id>_<secret>
  std::string token_id;
  std::string expires_at;  // RFC 3339, for people
};

// The file's path from the environment (see above); InvalidArgument when
// neither HOIST_CLI_CONFIG, XDG_CONFIG_HOME nor HOME is set.
Result<std::string> credentials_path();

// nullopt when the file does not exist. InvalidArgument for a file that is
// not what `hoist login` writes; PermissionDenied for unsafe ownership or
// mode (the message says what to run).
Result<std::optional<Credentials>> load_credentials(const std::string& path);

// Writes atomically (temporary file, fsync, rename), creating the directory
// 0700 when missing.
Status save_credentials(const std::string& path, const Credentials& credentials);

// Removes the file; no error when it does not exist.
Status remove_credentials(const std::string& path);

// What commands use: the file (when present) overridden by the environment.
// Unauthenticated, saying to run `hoist login`, when there is no token or no
// server; InvalidArgument when there is no way to trust the server.
Result<Credentials> current_credentials();

}  // namespace hoist::cli
