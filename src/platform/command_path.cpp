// resolve_command and directory_chain_trusted (declared in executable.h):
// kept apart from the inspector so the sudo plugin, which needs only these,
// does not pull in hashing (OpenSSL) and the dpkg database.
#include <sys/stat.h>

#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "core/path.h"
#include "platform/executable.h"

namespace hoist::platform {

namespace {

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
    if (::lstat(std::string(p).c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
        (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
      return false;
    }
  }
  return true;
}

}  // namespace hoist::platform
