#include "platform/executable.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "core/path.h"

namespace hoist::platform {

namespace {

std::string errno_text(int err) {
  return std::system_category().message(err);
}  // thread-safe strerror

bool root_owned_not_writable(const struct stat& st) {
  return st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0;
}

}  // namespace

Result<std::string> resolve_command(std::string_view command, std::string_view secure_path) {
  if (command.empty()) return invalid_argument("no command given");
  if (command.find('\0') != std::string_view::npos) return invalid_argument("the command contains a NUL byte");
  if (command.front() == '/') return std::string(command);
  if (command.find('/') != std::string_view::npos) {
    return invalid_argument(
        fmt::format("\"{}\" is a relative path; give an absolute path or a plain command name", command));
  }
  std::size_t start = 0;
  while (start <= secure_path.size()) {
    const std::size_t colon = std::min(secure_path.find(':', start), secure_path.size());
    const auto dir = secure_path.substr(start, colon - start);
    if (!dir.empty() && dir.front() == '/') {
      std::string candidate = fmt::format("{}/{}", dir, command);
      if (is_executable_file(candidate)) return candidate;
    }
    start = colon + 1;
  }
  return not_found(fmt::format("{}: command not found in the secure path {}", command, secure_path));
}

bool directory_chain_trusted(const std::string& dir) {
  for (std::string_view p = dir; !p.empty(); p = parent_path(p)) {
    struct stat st {};
    if (::lstat(std::string(p).c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || !root_owned_not_writable(st)) {
      return false;
    }
  }
  return true;
}

Result<InspectedExecutable> ExecutableInspector::inspect(std::string_view path) const {
  const std::string given(path);
  char buf[PATH_MAX];
  if (::realpath(given.c_str(), buf) == nullptr) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return not_found(fmt::format("{}: no such file", given));
    return unavailable(fmt::format("{}: cannot resolve: {}", given, errno_text(err)));
  }
  const std::string real(buf);
  // O_NOFOLLOW: the real path has no symlinks left; if one appears now, the
  // tree changed under us and we refuse rather than guess.
  UniqueFd fd(::open(real.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) return unavailable(fmt::format("{}: cannot open: {}", real, errno_text(errno)));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return unavailable(fmt::format("{}: cannot stat: {}", real, errno_text(errno)));
  if (!S_ISREG(st.st_mode)) return invalid_argument(fmt::format("{}: not a regular file", real));
  if ((st.st_mode & 0111) == 0) return invalid_argument(fmt::format("{}: not executable", real));

  InspectedExecutable out;
  out.identity = FileIdentity::of(st);
  out.facts.path = real;
  out.facts.trusted_path = root_owned_not_writable(st) && directory_chain_trusted(std::string(parent_path(real)));
  auto digest = cache_ != nullptr ? cache_->sha256(fd.get(), out.identity) : sha256_of_fd(fd.get());
  if (!digest.ok()) return digest.error();
  out.facts.sha256 = *digest;
  if (packages_ != nullptr) out.facts.package = packages_->lookup(real, fd.get(), out.identity);
  out.fd = std::move(fd);
  return out;
}

}  // namespace hoist::platform
