// hoistd's TLS directory and the files in it: the CA and server keys must
// stay private to hoistd, and a crash must never leave a half-written file.
//
// MUST: the directory is refused (never repaired) when it is a symlink, not
// a directory, not owned by the effective uid, or writable by group or
// others. MUST: files in it are opened relative to the checked directory's
// descriptor with O_NOFOLLOW, so swapping the path afterwards changes
// nothing. MUST: a private key file that group or others can read, or that
// is owned by anyone but the effective uid or root, is refused with a
// message saying how to fix it; permissions are never fixed silently.
// MUST: files are replaced atomically: a new file is created with
// O_CREAT|O_EXCL|O_NOFOLLOW and its final mode, written, fsynced and renamed
// over the old one.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/result.h"
#include "platform/unique_fd.h"

namespace hoist::tls {

enum class FileKind {
  kPublic,      // certificates
  kPrivateKey,  // checked for mode and owner
};

enum class Symlinks {
  kRefuse,
  kFollow,  // admin-supplied paths, e.g. /etc/letsencrypt/live/*/privkey.pem
};

// Reads a regular file of at most 1 MiB, `name` relative to `dirfd`
// (AT_FDCWD for a path). NotFound when it does not exist; InvalidArgument
// when it is not a regular file, is too large, is a refused symlink, or is a
// private key with unsafe ownership or mode; Unavailable for read errors.
// Messages use `shown_as` for the file.
Result<std::string> read_checked_file(int dirfd, const std::string& name, std::string_view shown_as, FileKind kind,
                                      Symlinks symlinks);

class PrivateDir {
 public:
  // Opens `path`, creating it with mode 0700 when it does not exist (its
  // parent must), and holds an exclusive flock on it while the object lives
  // so two processes never create two CAs at once. Fails with
  // InvalidArgument, saying what to change, when the directory is refused
  // (see the invariants above), and Unavailable when it cannot be created,
  // opened or locked (another holder of the lock is not waited for).
  static Result<PrivateDir> open_or_create(const std::string& path);

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string path_of(std::string_view name) const;

  // A file in the directory, or nullopt when it does not exist; other
  // failures as read_checked_file.
  Result<std::optional<std::string>> read(const std::string& name, FileKind kind) const;

  // Atomically replaces (or creates) `name` with `content` and `mode`.
  // Unavailable, naming the file, on any I/O error; the old file is then
  // unchanged and no temporary file is left behind.
  Status replace(const std::string& name, std::string_view content, mode_t mode) const;

  // fsyncs the directory so completed renames survive a crash.
  Status sync() const;

 private:
  PrivateDir(std::string path, platform::UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

  std::string path_;
  platform::UniqueFd fd_;
};

}  // namespace hoist::tls
