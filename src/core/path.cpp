#include "core/path.h"

#include <algorithm>
#include <vector>

namespace hoist {

Result<std::string> normalize_absolute_path(std::string_view path) {
  if (path.empty()) return invalid_argument("empty path: an absolute path such as /usr/bin/apt is required");
  if (path.front() != '/') {
    return invalid_argument("\"" + std::string(path) + "\" is not an absolute path (it must start with '/')");
  }
  if (path.find('\0') != std::string_view::npos) return invalid_argument("path contains a NUL byte");
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    const std::size_t start = i;
    while (i < path.size() && path[i] != '/') ++i;
    const std::string_view part = path.substr(start, i - start);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  if (parts.empty()) return std::string("/");
  std::string out;
  out.reserve(path.size());
  for (const auto part : parts) {
    out += '/';
    out += part;
  }
  return out;
}

bool is_normalized_absolute(std::string_view path) {
  // Allocation-free: this runs on every decision.
  if (path.empty() || path.front() != '/') return false;
  if (path == "/") return true;
  if (path.back() == '/' || path.find('\0') != std::string_view::npos) return false;
  std::size_t start = 1;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

bool path_is_within(std::string_view path, std::string_view folder) {
  if (folder == "/") return !path.empty() && path.front() == '/';
  if (path.size() < folder.size() || path.substr(0, folder.size()) != folder) return false;
  return path.size() == folder.size() || path[folder.size()] == '/';
}

std::string_view parent_path(std::string_view normalized) {
  if (normalized.empty() || normalized == "/") return {};
  const auto slash = normalized.rfind('/');
  if (slash == std::string_view::npos) return {};  // not absolute: no parent to walk to
  if (slash == 0) return "/";
  return normalized.substr(0, slash);
}

}  // namespace hoist
