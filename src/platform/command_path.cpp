// resolve_command and directory_chain_trusted (declared in executable.h):
// kept apart from the inspector so the sudo plugin, which needs only these,
// does not pull in hashing (OpenSSL) and the dpkg database.
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string>
#include <system_error>

#include "core/path.h"
#include "platform/executable.h"

namespace hoist::platform {

namespace {

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0;
}

Result<std::string> real_path_of(const std::string& path, std::string_view what) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return not_found(fmt::format("{}: no such {}", path, what));
    return unavailable(fmt::format("{}: cannot resolve: {}", path, std::system_category().message(err)));
  }
  return std::string(buf);
}

// "/a/b/c" -> {"/a/b", "c"}; "/c" -> {"/", "c"}.
std::pair<std::string, std::string> split_last(std::string_view path) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == 0 ? std::string("/") : std::string(path.substr(0, slash));
  return {dir, std::string(path.substr(slash + 1))};
}

std::string join_dir(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

// /proc (and /dev/fd, which leads there) holds links to whatever a process
// has open, in directories owned by that process's user: never trusted.
bool under_proc(std::string_view dir) {
  return dir == "/proc" || dir.rfind("/proc/", 0) == 0;
}

// Every link from `link` (in the resolved directory `dir`) on to `real`,
// one hop at a time: true when each lies in a trusted directory, so that
// nobody but root decides where the name leads.
bool link_chain_trusted(std::string link, std::string dir, const std::string& real) {
  constexpr int kMaxHops = 40;  // the kernel's own limit on a path's links
  for (int hop = 0; hop < kMaxHops; ++hop) {
    if (under_proc(dir) || !directory_chain_trusted(dir)) return false;
    struct stat st {};
    if (::lstat(link.c_str(), &st) != 0) return false;
    if (!S_ISLNK(st.st_mode)) return link == real;
    char target[PATH_MAX];
    const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    if (n <= 0) return false;
    const std::string to(target, static_cast<std::size_t>(n));
    const std::string next = to.front() == '/' ? to : join_dir(dir, to);
    const auto [next_dir, next_name] = split_last(next);
    if (next_name.empty() || next_name == "." || next_name == "..") return false;
    char resolved[PATH_MAX];
    if (::realpath(next_dir.c_str(), resolved) == nullptr) return false;
    dir = resolved;
    link = join_dir(dir, next_name);
  }
  return false;
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

Result<CommandPaths> command_paths(std::string_view resolved) {
  if (resolved.empty() || resolved.front() != '/' || resolved.find('\0') != std::string_view::npos) {
    return invalid_argument("the command is not an absolute path (this is a bug)");
  }
  const auto [dir, name] = split_last(resolved);
  if (name.empty() || name == "." || name == "..") {
    return invalid_argument(fmt::format("{}: not the name of a program", resolved));
  }
  auto real = real_path_of(std::string(resolved), "command");
  if (!real) return real.error();
  CommandPaths out;
  out.real_path = *real;
  if (split_last(*real).second == name) {
    out.path = *real;
    return out;
  }
  // Another name: the program sees it in argv[0].
  auto real_dir = real_path_of(dir, "directory");
  if (!real_dir) return real_dir.error();
  out.path = join_dir(*real_dir, name);
  out.link_trusted = link_chain_trusted(out.path, *real_dir, out.real_path);
  return out;
}

Result<EditFile> inspect_edit_file(std::string_view cwd, std::string_view name) {
  if (name.empty() || name.find('\0') != std::string_view::npos) return invalid_argument("an empty file name");
  std::string absolute(name);
  if (name.front() != '/') {
    if (cwd.empty() || cwd.front() != '/') {
      return invalid_argument(fmt::format("{}: a relative name, and the current directory is unknown", name));
    }
    absolute = std::string(cwd) + "/" + std::string(name);
  }
  while (absolute.size() > 1 && absolute.back() == '/') absolute.pop_back();
  const auto [dir, base] = split_last(absolute);
  if (base.empty() || base == "." || base == "..") {
    return invalid_argument(fmt::format("{}: not the name of a file", name));
  }
  auto real_dir = real_path_of(dir, "directory");
  if (!real_dir) {
    if (real_dir.error().code == ErrorCode::kNotFound) {
      return not_found(fmt::format("{}: its directory does not exist", name));
    }
    return real_dir.error();
  }
  EditFile out;
  out.path = join_dir(*real_dir, base);
  struct stat st {};
  if (::lstat(out.path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return unavailable(fmt::format("{}: cannot look at it: {}", out.path, std::system_category().message(errno)));
    }
    out.trusted = directory_chain_trusted(*real_dir);  // a new file
    return out;
  }
  if (S_ISLNK(st.st_mode)) return out;  // never trusted: sudoedit refuses links too
  if (!S_ISREG(st.st_mode)) return invalid_argument(fmt::format("{} is not a regular file", out.path));
  out.trusted = directory_chain_trusted(*real_dir);
  return out;
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
