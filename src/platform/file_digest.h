// Digests of open files and a cache keyed by the file's identity.
//
// MUST: a cached digest is used only while (device, inode, size, mtime,
// ctime) are unchanged. Any write to the file changes mtime and ctime, and
// ctime cannot be set by a user, so a changed file is always hashed again.
#pragma once

#include <sys/stat.h>

#include <array>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "core/result.h"
#include "core/sha256.h"

namespace hoist::platform {

using Md5 = std::array<std::uint8_t, 16>;

struct FileIdentity {
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;

  static FileIdentity of(const struct stat& st);
  friend bool operator==(const FileIdentity&, const FileIdentity&) = default;
};

// Reads the whole file from offset 0 (pread: the descriptor's offset is left
// alone, so the same fd can later be executed with fexecve).
Result<Sha256> sha256_of_fd(int fd);
Result<Md5> md5_of_fd(int fd);
std::string md5_hex(const Md5& d);

// A bounded, thread-safe LRU cache of digests by file identity.
class DigestCache {
 public:
  explicit DigestCache(std::size_t capacity = 4096) : capacity_(capacity) {}

  Result<Sha256> sha256(int fd, const FileIdentity& id);
  Result<Md5> md5(int fd, const FileIdentity& id);

  [[nodiscard]] std::size_t hits() const { return hits_; }
  [[nodiscard]] std::size_t misses() const { return misses_; }

 private:
  struct Entry {
    FileIdentity id;
    std::optional<Sha256> sha256;
    std::optional<Md5> md5;
  };
  struct IdHash {
    std::size_t operator()(const FileIdentity& i) const noexcept {
      return std::hash<std::uint64_t>{}(i.ino * 0x9e3779b97f4a7c15ULL ^ i.dev ^ static_cast<std::uint64_t>(i.mtime_ns));
    }
  };
  Entry& slot(const FileIdentity& id);  // caller holds mu_
  template <class Digest, class Compute>
  Result<Digest> cached(int fd, const FileIdentity& id, std::optional<Digest> Entry::*field, Compute compute);

  std::size_t capacity_;
  std::mutex mu_;
  std::list<Entry> lru_;  // front = most recent
  std::unordered_map<FileIdentity, std::list<Entry>::iterator, IdHash> map_;
  std::size_t hits_ = 0;
  std::size_t misses_ = 0;
};

}  // namespace hoist::platform
