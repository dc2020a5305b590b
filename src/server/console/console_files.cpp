#include "server/console/console_files.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "core/sha256.h"

namespace hoist::server {

namespace {

std::string content_type_of(std::string_view path) {
  const auto dot = path.rfind('.');
  const std::string_view ext = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "json" || ext == "map") return "application/json";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "ico") return "image/x-icon";
  if (ext == "woff2") return "font/woff2";
  if (ext == "txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

}  // namespace

void add_console_headers(net::HttpResponse& response) {
  response.set_header("content-security-policy",
                      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                      "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
                      "form-action 'self'; frame-ancestors 'none'");
  response.set_header("x-content-type-options", "nosniff");
  response.set_header("x-frame-options", "DENY");
  response.set_header("referrer-policy", "no-referrer");
  response.set_header("cross-origin-opener-policy", "same-origin");
}

Result<ConsoleFiles> ConsoleFiles::load(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(dir) / "index.html", ec)) {
    return not_found(fmt::format("{} has no index.html: build the console first (make console)", dir));
  }
  ConsoleFiles out;
  std::size_t total = 0;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec);
  if (ec) return unavailable(fmt::format("cannot read {}: {}", dir, ec.message()));
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return unavailable(fmt::format("cannot read {}: {}", dir, ec.message()));
    const auto status = it->symlink_status(ec);
    if (ec || !fs::is_regular_file(status)) continue;  // directories, and symlinks are never followed
    const std::string rel = "/" + fs::relative(it->path(), dir, ec).generic_string();
    if (ec) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in.good() && !in.eof()) return unavailable(fmt::format("cannot read {}", it->path().string()));
    ConsoleFile f;
    f.body = body.str();
    f.content_type = content_type_of(rel);
    f.etag = "\"" + sha256(f.body).hex().substr(0, 32) + "\"";
    total += f.body.size();
    if (out.files_.size() + 1 > kMaxConsoleFiles || total > kMaxConsoleBytes) {
      return invalid_argument(fmt::format("{} holds more than {} files or {} bytes: is it the console's dist?", dir,
                                          kMaxConsoleFiles, kMaxConsoleBytes));
    }
    out.files_.emplace(rel, std::move(f));
  }
  return out;
}

std::optional<net::HttpResponse> ConsoleFiles::answer(const net::HttpRequest& request) const {
  const std::string_view path = request.path == "/" ? std::string_view("/index.html") : std::string_view(request.path);
  const auto it = files_.find(path);
  if (it == files_.end()) return std::nullopt;
  const ConsoleFile& f = it->second;
  net::HttpResponse r;
  add_console_headers(r);
  r.set_header("etag", f.etag);
  r.set_header("cache-control", path.starts_with("/assets/") ? "public, max-age=31536000, immutable" : "no-cache");
  if (const auto inm = request.header("if-none-match"); inm && net::if_none_match_matches(*inm, f.etag)) {
    r.status = 304;
    return r;
  }
  r.status = 200;
  r.set_header("content-type", f.content_type);
  if (request.method != "HEAD") r.body = f.body;
  return r;
}

}  // namespace hoist::server
