#include "platform/file_digest.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>
#include <vector>

namespace hoist::platform {

namespace {

std::string errno_text(int err) {
  return std::system_category().message(err);
}  // thread-safe strerror

constexpr std::size_t kChunk = 1U << 20;

std::int64_t ns(const struct timespec& t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

template <std::size_t N>
Result<std::array<std::uint8_t, N>> digest_fd(int fd, const EVP_MD* md) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) return internal_error("OpenSSL digest init failed");
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  std::vector<std::uint8_t> buf(kChunk);
  off_t off = 0;
  for (;;) {
    const ssize_t n = pread(fd, buf.data(), buf.size(), off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return unavailable(std::string("cannot read the file to hash it: ") + errno_text(errno));
    }
    if (n == 0) break;
    if (EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(n)) != 1) {
      return internal_error("OpenSSL digest update failed");
    }
    off += n;
  }
  std::array<std::uint8_t, N> out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != N) {
    return internal_error("OpenSSL digest final failed");
  }
  return out;
}

}  // namespace

FileIdentity FileIdentity::of(const struct stat& st) {
  return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
          static_cast<std::int64_t>(st.st_size), ns(st.st_mtim), ns(st.st_ctim)};
}

Result<Sha256> sha256_of_fd(int fd) {
  auto d = digest_fd<32>(fd, EVP_sha256());
  if (!d.ok()) return d.error();
  return Sha256{*d};
}

Result<Md5> md5_of_fd(int fd) {
  return digest_fd<16>(fd, EVP_md5());
}

std::string md5_hex(const Md5& d) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const auto b : d) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

DigestCache::Entry& DigestCache::slot(const FileIdentity& id) {
  if (const auto it = map_.find(id); it != map_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return *it->second;
  }
  lru_.push_front(Entry{id, {}, {}});
  map_[id] = lru_.begin();
  if (lru_.size() > capacity_) {
    map_.erase(lru_.back().id);
    lru_.pop_back();
  }
  return lru_.front();
}

template <class Digest, class Compute>
Result<Digest> DigestCache::cached(int fd, const FileIdentity& id, std::optional<Digest> Entry::*field,
                                   Compute compute) {
  {
    std::lock_guard lock(mu_);
    const Entry& e = slot(id);
    if (e.*field) {
      ++hits_;
      return *(e.*field);
    }
    ++misses_;
  }
  // Hash without the lock: a large file must not stall other lookups.
  auto d = compute(fd);
  if (!d.ok()) return d;
  std::lock_guard lock(mu_);
  slot(id).*field = *d;
  return d;
}

Result<Sha256> DigestCache::sha256(int fd, const FileIdentity& id) {
  return cached(fd, id, &Entry::sha256, sha256_of_fd);
}

Result<Md5> DigestCache::md5(int fd, const FileIdentity& id) {
  return cached(fd, id, &Entry::md5, md5_of_fd);
}

}  // namespace hoist::platform
