#include "cli/credentials.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "platform/unique_fd.h"

namespace hoist::cli {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxFileBytes = 64 * 1024;

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read before any thread starts
  if (value == nullptr || *value == '\0') {
    return std::nullopt;
  }
  return std::string(value);
}

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

Status make_dirs(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return invalid_argument(fmt::format("{} is not a directory", dir));
    }
    return {};
  }
  const std::string parent = parent_of(dir);
  if (parent != dir) {
    if (auto s = make_dirs(parent); !s) {
      return s;
    }
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return permission_denied(fmt::format("cannot create {}: {}", dir, std::strerror(errno)));
  }
  return {};
}

Result<std::string> string_field(const json::object& o, std::string_view key, bool required) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (required) {
      return invalid_argument(fmt::format("\"{}\" is missing", key));
    }
    return std::string();
  }
  if (!v->is_string()) {
    return invalid_argument(fmt::format("\"{}\" must be a string", key));
  }
  return std::string(v->as_string());
}

}  // namespace

Result<std::string> credentials_path() {
  if (auto p = env("HOIST_CLI_CONFIG")) {
    return *p;
  }
  if (auto x = env("XDG_CONFIG_HOME"); x && (*x)[0] == '/') {
    return *x + "/hoist/cli.json";
  }
  if (auto home = env("HOME")) {
    return *home + "/.config/hoist/cli.json";
  }
  return invalid_argument("cannot tell where to keep the login: set HOME or HOIST_CLI_CONFIG");
}

Result<std::optional<Credentials>> load_credentials(const std::string& path) {
  platform::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.valid()) {
    if (errno == ENOENT) {
      return std::optional<Credentials>();
    }
    if (errno == ELOOP) {
      return permission_denied(fmt::format("{} is a symbolic link; refusing to read a login through it", path));
    }
    return permission_denied(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return permission_denied(fmt::format("{} is not a regular file", path));
  }
  if (st.st_uid != ::geteuid()) {
    return permission_denied(
        fmt::format("{} belongs to uid {}, not to you; refusing to use its token", path, st.st_uid));
  }
  if ((st.st_mode & 077) != 0) {
    return permission_denied(
        fmt::format("{} is readable by others (mode {:03o}); its token may have leaked: run `chmod 600 {}`, "
                    "`hoist logout` and log in again",
                    path, st.st_mode & 0777, path));
  }
  if (st.st_size > static_cast<off_t>(kMaxFileBytes)) {
    return invalid_argument(fmt::format("{} is too large for a hoist login file", path));
  }
  std::string text;
  char buffer[4096];
  for (;;) {
    const auto n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return unavailable(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    }
    if (n == 0) {
      break;
    }
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > kMaxFileBytes) {
      return invalid_argument(fmt::format("{} is too large for a hoist login file", path));
    }
  }
  json::error_code ec;
  const auto value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    return invalid_argument(fmt::format("{} is not a hoist login file (run `hoist login` again)", path));
  }
  const auto& o = value.as_object();
  Credentials c;
  auto bad = [&](const Error& e) {
    return invalid_argument(fmt::format("{}: {} (run `hoist login` again)", path, e.message));
  };
  auto take = [&](std::string_view key, bool required, std::string& out) -> Status {
    auto s = string_field(o, key, required);
    if (!s) {
      return bad(s.error());
    }
    out = std::move(*s);
    return {};
  };
  std::string fingerprint;
  std::string ca_file;
  for (auto st2 :
       {take("server", true, c.server), take("token", true, c.token), take("user", false, c.user),
        take("role", false, c.role), take("token_id", false, c.token_id), take("expires_at", false, c.expires_at),
        take("ca_fingerprint", false, fingerprint), take("ca_file", false, ca_file)}) {
    if (!st2) {
      return st2.error();
    }
  }
  if (!fingerprint.empty()) {
    c.ca_fingerprint = fingerprint;
  }
  if (!ca_file.empty()) {
    c.ca_file = ca_file;
  }
  return std::optional<Credentials>(std::move(c));
}

Status save_credentials(const std::string& path, const Credentials& c) {
  const std::string dir = parent_of(path);
  if (auto s = make_dirs(dir); !s) {
    return s;
  }
  json::object o{{"server", c.server},
                 {"user", c.user},
                 {"role", c.role},
                 {"token", c.token},
                 {"token_id", c.token_id},
                 {"expires_at", c.expires_at},
                 {"ca_fingerprint", c.ca_fingerprint.value_or("")},
                 {"ca_file", c.ca_file.value_or("")}};
  const std::string text = json::serialize(o) + "\n";
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  platform::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) {
    return permission_denied(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      const int err = errno;
      ::unlink(tmp.c_str());
      return unavailable(fmt::format("cannot write {}: {}", tmp, std::strerror(err)));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return unavailable(fmt::format("cannot write {}: {}", path, std::strerror(err)));
  }
  return {};
}

Status remove_credentials(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return permission_denied(fmt::format("cannot remove {}: {}", path, std::strerror(errno)));
  }
  return {};
}

Result<Credentials> current_credentials() {
  Credentials c;
  auto path = credentials_path();
  const auto env_token = env("HOIST_TOKEN");
  const auto env_server = env("HOIST_SERVER");
  // With both in the environment, the file is not needed (nor read).
  if (path && !(env_token && env_server)) {
    auto loaded = load_credentials(*path);
    if (!loaded) {
      return loaded.error();
    }
    if (*loaded) {
      c = std::move(**loaded);
    }
  }
  if (env_server) {
    c.server = *env_server;
  }
  if (env_token) {
    c.token = *env_token;
    c.user.clear();
  }
  if (auto f = env("HOIST_CA_FINGERPRINT")) {
    c.ca_fingerprint = *f;
  }
  if (auto f = env("HOIST_CA_FILE")) {
    c.ca_file = *f;
  }
  if (c.server.empty() || c.token.empty()) {
    return unauthenticated("not logged in: run `hoist login https://SERVER:PORT --fingerprint SHA256` first");
  }
  if (!c.ca_fingerprint && !c.ca_file) {
    return invalid_argument("no way to trust the server: log in again with --fingerprint or --ca-file");
  }
  return c;
}

}  // namespace hoist::cli
