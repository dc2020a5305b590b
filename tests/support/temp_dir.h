// Temporary directories for tests, shared by every test executable.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace hoist::testing {

// First of /run, /var/cache, /root whose chain is root-owned and not
// group/other-writable, or "" when none is.
inline std::string trusted_base() {
  for (const char* base : {"/run", "/var/cache", "/root"}) {
    bool ok = true;
    for (std::filesystem::path p = base;; p = p.parent_path()) {
      struct stat st {};
      if (::lstat(p.c_str(), &st) != 0 || st.st_uid != 0 || (st.st_mode & 022) != 0) {
        ok = false;
        break;
      }
      if (p == p.parent_path()) break;
    }
    if (ok) return base;
  }
  return "";
}

// A private directory, removed with everything in it. Under /tmp by default;
// `trusted_base` picks a parent whose whole chain is root-owned and not
// writable by others (/tmp is world-writable, so nothing below it is
// trusted).
class TempDir {
 public:
  explicit TempDir(const std::string& base = "/tmp") {
    std::string tmpl = (base.empty() ? std::string("/tmp") : base) + "/hoist-test-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
    chmod(path_.c_str(), 0755);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const std::string& path() const { return path_; }

  std::string write(const std::string& rel, const std::string& content, mode_t mode = 0644) const {
    const std::string full = path_ + "/" + rel;
    std::filesystem::create_directories(std::filesystem::path(full).parent_path());
    {
      std::ofstream out(full, std::ios::binary | std::ios::trunc);
      out << content;
    }
    chmod(full.c_str(), mode);
    return full;
  }

 private:
  std::string path_;
};

// A private directory (mode 0700, from mkdtemp) under /tmp, removed with
// everything in it however the test ends.
class PrivateDir {
 public:
  PrivateDir() {
    std::string tmpl = "/tmp/hoist-test-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~PrivateDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  PrivateDir(const PrivateDir&) = delete;
  PrivateDir& operator=(const PrivateDir&) = delete;

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

}  // namespace hoist::testing
