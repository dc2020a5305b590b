#include "platform/dpkg_database.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "platform/read_file.h"

namespace hoist::platform {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

template <class F>
void for_each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    const auto nl = text.find('\n');
    f(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

}  // namespace

std::vector<DpkgStatusEntry> parse_dpkg_status(std::string_view text) {
  std::vector<DpkgStatusEntry> out;
  DpkgStatusEntry cur;
  std::string status;
  const auto flush = [&] {
    if (!cur.package.empty()) {
      cur.installed = status == "install ok installed" || status == "hold ok installed";
      out.push_back(std::move(cur));
    }
    cur = DpkgStatusEntry{};
    status.clear();
  };
  for_each_line(text, [&](std::string_view line) {
    if (trim(line).empty()) {
      flush();
      return;
    }
    if (line.front() == ' ' || line.front() == '\t') return;  // continuation line
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return;
    const auto key = line.substr(0, colon);
    const auto value = trim(line.substr(colon + 1));
    if (key == "Package") {
      cur.package = std::string(value);
    } else if (key == "Status") {
      status = std::string(value);
    } else if (key == "Architecture") {
      cur.architecture = std::string(value);
    } else if (key == "Maintainer") {
      cur.maintainer = std::string(value);
    } else if (key == "Origin") {
      cur.origin = std::string(value);
    }
  });
  flush();
  return out;
}

std::unordered_map<std::string, std::string> parse_md5sums(std::string_view text) {
  std::unordered_map<std::string, std::string> out;
  for_each_line(text, [&](std::string_view line) {
    if (line.size() < 35 || line[32] != ' ') return;
    const auto digest = line.substr(0, 32);
    if (!std::all_of(digest.begin(), digest.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })) {
      return;
    }
    auto path = line.substr(33);
    while (!path.empty() && path.front() == ' ') path.remove_prefix(1);
    if (path.empty()) return;
    out.emplace("/" + std::string(path), std::string(digest));
  });
  return out;
}

DpkgDatabase::DpkgDatabase(std::string admin_dir, DigestCache* cache) : dir_(std::move(admin_dir)), cache_(cache) {}

std::vector<std::string> DpkgDatabase::path_aliases(const std::string& real_path) {
  std::vector<std::string> out{real_path};
  for (const std::string_view top : {"/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/"}) {
    const std::string usr = "/usr" + std::string(top);
    if (real_path.compare(0, usr.size(), usr) == 0) out.push_back(std::string(top) + real_path.substr(usr.size()));
  }
  return out;
}

void DpkgDatabase::load_locked() {
  loaded_ = true;
  if (auto status = read_small_file(dir_ + "/status", 256U << 20); status.ok()) {
    for (auto& e : parse_dpkg_status(*status)) {
      if (!e.installed) continue;
      status_[e.package + ":" + e.architecture] = e;
      status_[e.package] = std::move(e);
    }
  }
  const std::string info = dir_ + "/info";
  DIR* d = opendir(info.c_str());
  if (d == nullptr) return;
  // readdir is safe on a DIR* used by one thread only (glibc).
  while (const dirent* ent = readdir(d)) {  // NOLINT(concurrency-mt-unsafe)
    const std::string_view name = ent->d_name;
    if (name.size() <= 5 || name.substr(name.size() - 5) != ".list") continue;
    const std::string key(name.substr(0, name.size() - 5));
    auto list = read_small_file(info + "/" + std::string(name), 64U << 20);
    if (!list.ok()) continue;
    for_each_line(*list, [&](std::string_view line) {
      if (!line.empty() && line.front() == '/') owners_[std::string(line)].push_back(key);
    });
  }
  closedir(d);
}

std::optional<std::string> DpkgDatabase::md5_for_locked(const std::string& list_key, const std::string& listed_path) {
  auto it = md5sums_.find(list_key);
  if (it == md5sums_.end()) {
    auto text = read_small_file(dir_ + "/info/" + list_key + ".md5sums", 64U << 20);
    it = md5sums_.emplace(list_key, text.ok() ? parse_md5sums(*text) : decltype(it->second){}).first;
  }
  const auto m = it->second.find(listed_path);
  if (m == it->second.end()) return std::nullopt;
  return m->second;
}

std::optional<PackageFacts> DpkgDatabase::lookup(const std::string& real_path, int fd, const FileIdentity& id) {
  {
    std::lock_guard lock(mu_);
    if (const auto it = facts_.find(FactsKey{real_path, id}); it != facts_.end()) return it->second;
  }
  auto facts = lookup_uncached(real_path, fd, id);
  std::lock_guard lock(mu_);
  if (facts_.size() >= 4096) facts_.clear();
  facts_.emplace(FactsKey{real_path, id}, facts);
  return facts;
}

std::optional<PackageFacts> DpkgDatabase::lookup_uncached(const std::string& real_path, int fd,
                                                          const FileIdentity& id) {
  std::string key;
  std::string listed;
  std::optional<std::string> expected_md5;
  {
    std::lock_guard lock(mu_);
    if (!loaded_) load_locked();
    for (const auto& alias : path_aliases(real_path)) {
      const auto it = owners_.find(alias);
      if (it == owners_.end()) continue;
      if (!key.empty() || it->second.size() != 1) return std::nullopt;  // ambiguous: fail closed
      key = it->second.front();
      listed = alias;
    }
    if (key.empty()) return std::nullopt;
    expected_md5 = md5_for_locked(key, listed);
  }
  const auto colon = key.find(':');
  const std::string name = key.substr(0, colon);
  PackageFacts facts;
  facts.name = name;
  {
    std::lock_guard lock(mu_);
    const auto st = status_.find(key);
    if (st == status_.end()) return std::nullopt;  // listed but not installed
    facts.origin = st->second.origin;
    facts.maintainer = st->second.maintainer;
  }
  if (expected_md5) {
    const auto actual = cache_ != nullptr ? cache_->md5(fd, id) : md5_of_fd(fd);
    facts.verified = actual.ok() && md5_hex(*actual) == *expected_md5;
  }
  return facts;
}

}  // namespace hoist::platform
