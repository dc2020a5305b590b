// The web console's built files (console/dist), read once at start and
// served from memory by hoistd at "/" (docs/console.md).
//
// MUST: only the files found under the directory at start can be served: a
// request path is looked up in the map, never joined to a file-system path,
// so no "..", symlink or encoding trick reaches another file.
// MUST: every answer carries the console's security headers (a strict
// Content-Security-Policy: only this origin's scripts, styles and fetches;
// no framing), so a bug in the console cannot pull code from elsewhere.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "net/http_message.h"

namespace hoist::server {

struct ConsoleFile {
  std::string body;
  std::string content_type;
  std::string etag;  // "\"<sha256 prefix>\""
};

// Limits on what is loaded: the console is a few hundred kilobytes.
inline constexpr std::size_t kMaxConsoleFiles = 2000;
inline constexpr std::size_t kMaxConsoleBytes = std::size_t{64} * 1024 * 1024;

class ConsoleFiles {
 public:
  // Regular files under `dir` (recursively, not following symlinks), keyed
  // "/relative/path". NotFound when `dir` has no index.html (not built);
  // InvalidArgument past the limits.
  static Result<ConsoleFiles> load(const std::string& dir);

  [[nodiscard]] std::size_t size() const { return files_.size(); }

  // The answer to GET/HEAD `path` ("/" is /index.html), or nullopt when
  // there is no such file. Hashed assets (/assets/...) are cached for a
  // year; everything else is revalidated (ETag, If-None-Match).
  [[nodiscard]] std::optional<net::HttpResponse> answer(const net::HttpRequest& request) const;

 private:
  std::map<std::string, ConsoleFile, std::less<>> files_;
};

// The security headers of every console answer.
void add_console_headers(net::HttpResponse& response);

}  // namespace hoist::server
