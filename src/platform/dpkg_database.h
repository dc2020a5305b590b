// Which Debian package owns a file, and does the file still match the
// package? Answers "Vendor/Product" and "verified executable" rules from
// dpkg's own database (/var/lib/dpkg): info/*.list for ownership, the status
// file for Maintainer and Origin, info/*.md5sums for the digest.
//
// MUST: a file is "verified" only when it is listed by exactly one installed
// package and its MD5 equals that package's md5sums entry. Anything missing,
// unreadable, diverted or ambiguous is unverified (fails closed). MD5 is what
// dpkg records; the database itself is writable only by root.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/evaluator.h"
#include "platform/file_digest.h"

namespace hoist::platform {

class PackageDatabase {
 public:
  virtual ~PackageDatabase() = default;
  // Facts for the file at real_path, open as fd with identity id; nullopt
  // when no installed package owns it.
  virtual std::optional<PackageFacts> lookup(const std::string& real_path, int fd, const FileIdentity& id) = 0;
};

struct DpkgStatusEntry {
  std::string package;  // "libc6" (without architecture)
  std::string architecture;
  std::string maintainer;
  std::string origin;
  bool installed = false;  // Status: install ok installed
};

// Pure parsers of dpkg's formats (fuzzed). Malformed stanzas are skipped.
std::vector<DpkgStatusEntry> parse_dpkg_status(std::string_view text);
// "d41d8cd9...  usr/bin/x" lines -> path ("/usr/bin/x") to hex digest.
std::unordered_map<std::string, std::string> parse_md5sums(std::string_view text);

class DpkgDatabase final : public PackageDatabase {
 public:
  explicit DpkgDatabase(std::string admin_dir = "/var/lib/dpkg", DigestCache* cache = nullptr);

  std::optional<PackageFacts> lookup(const std::string& real_path, int fd, const FileIdentity& id) override;

  // Paths dpkg may have recorded for a real path on a merged-/usr system:
  // "/usr/bin/ls" is listed as "/bin/ls" by packages built before the merge.
  static std::vector<std::string> path_aliases(const std::string& real_path);

 private:
  std::optional<PackageFacts> lookup_uncached(const std::string& real_path, int fd, const FileIdentity& id);
  void load_locked();
  std::optional<std::string> md5_for_locked(const std::string& list_key, const std::string& listed_path);

  std::string dir_;
  DigestCache* cache_;
  std::mutex mu_;
  bool loaded_ = false;
  // path -> list files naming it ("pkg" or "pkg:arch"); more than one is
  // a shared directory or an ambiguity.
  std::unordered_map<std::string, std::vector<std::string>> owners_;
  std::map<std::string, DpkgStatusEntry> status_;                                          // by "pkg" and "pkg:arch"
  std::unordered_map<std::string, std::unordered_map<std::string, std::string>> md5sums_;  // by list key
  // Answers by (path, file identity): a changed file has a new identity, so
  // it is verified again. Bounded; cleared when full.
  struct FactsKey {
    std::string path;
    FileIdentity id;
    friend bool operator==(const FactsKey&, const FactsKey&) = default;
  };
  struct FactsKeyHash {
    std::size_t operator()(const FactsKey& k) const noexcept {
      return std::hash<std::string>{}(k.path) ^ (k.id.ino * 0x9e3779b97f4a7c15ULL) ^
             static_cast<std::size_t>(k.id.ctime_ns);
    }
  };
  std::unordered_map<FactsKey, std::optional<PackageFacts>, FactsKeyHash> facts_;
};

}  // namespace hoist::platform
