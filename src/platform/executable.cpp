#include "platform/executable.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
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

}  // namespace

Result<InspectedExecutable> ExecutableInspector::inspect(std::string_view path) const {
  auto paths = command_paths(path);
  if (!paths) return paths.error();
  const std::string& real = paths->real_path;
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
  out.facts.path = paths->path;
  if (paths->renamed()) out.facts.real_path = real;
  out.facts.trusted_path =
      root_owned_not_writable(st) && directory_chain_trusted(std::string(parent_path(real))) && paths->link_trusted;
  auto digest = cache_ != nullptr ? cache_->sha256(fd.get(), out.identity) : sha256_of_fd(fd.get());
  if (!digest.ok()) return digest.error();
  out.facts.sha256 = *digest;
  if (packages_ != nullptr) out.facts.package = packages_->lookup(real, fd.get(), out.identity);
  out.fd = std::move(fd);
  return out;
}

}  // namespace hoist::platform
