#include "plugin/break_glass.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "platform/executable.h"
#include "platform/unique_fd.h"

namespace hoist::plugin {

namespace {

constexpr std::size_t kMaxFileBytes = 64 * 1024;

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == 0 ? std::string("/") : path.substr(0, slash);
}

Status fsync_dir(const std::string& dir) {
  platform::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0) return unavailable(dir + ": " + std::strerror(errno));
  return {};
}

}  // namespace

Result<std::vector<std::string>> read_break_glass_file(const std::string& path) {
  if (path.empty()) return not_found("no break-glass file is configured");
  platform::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid()) return unavailable(path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return unavailable(path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return permission_denied(path + " must be a regular file owned by root and not writable by group or others");
  }
  if (!platform::directory_chain_trusted(parent_of(path))) {
    return permission_denied(path + " is in a directory that is not root-owned or is writable by others");
  }
  if (st.st_size > static_cast<off_t>(kMaxFileBytes)) return invalid_argument(path + " is larger than 64 KiB");
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return unavailable(path + ": " + std::strerror(errno));
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxFileBytes) return invalid_argument(path + " is larger than 64 KiB");
  }
  auto groups = parse_break_glass(text);
  if (!groups) return invalid_argument(path + ": " + groups.error().message);
  return groups;
}

bool member_of_any(std::span<const std::string> groups, std::span<const std::uint32_t> gids) {
  for (const auto& name : groups) {
    group gr{};
    group* found = nullptr;
    std::vector<char> buf(16384);
    int rc = 0;
    while ((rc = ::getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found)) == ERANGE &&
           buf.size() < (std::size_t{1} << 22)) {
      buf.resize(buf.size() * 2);
    }
    if (rc != 0 || found == nullptr) continue;
    if (std::find(gids.begin(), gids.end(), static_cast<std::uint32_t>(gr.gr_gid)) != gids.end()) return true;
  }
  return false;
}

Result<std::string> write_spool_event(const std::string& spool_dir, const ipc::Fields& event) {
  auto frame = ipc::encode_frame(event);
  if (!frame) return frame.error();
  struct stat st {};
  if (::lstat(spool_dir.c_str(), &st) != 0) {
    if (errno != ENOENT || (::mkdir(spool_dir.c_str(), 0700) != 0 && errno != EEXIST) ||
        ::lstat(spool_dir.c_str(), &st) != 0) {
      return unavailable(spool_dir + ": " + std::strerror(errno));
    }
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077) != 0) {
    return permission_denied(spool_dir + " must be a directory owned by root with mode 0700");
  }
  std::uint64_t random = 0;
  if (::getrandom(&random, sizeof(random), 0) != static_cast<ssize_t>(sizeof(random))) {
    return unavailable(std::string("getrandom: ") + std::strerror(errno));
  }
  char hex[17];
  for (int i = 0; i < 16; ++i) hex[i] = "0123456789abcdef"[(random >> (60 - 4 * i)) & 0xF];
  hex[16] = '\0';
  const std::string name = std::to_string(::time(nullptr)) + "-" + hex + ".event";
  std::string temp = spool_dir + "/.tmp-XXXXXX";
  platform::UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd.valid()) return unavailable(spool_dir + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < frame->size()) {
    const ssize_t n = ::write(fd.get(), frame->data() + done, frame->size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  const bool ok = done == frame->size() && ::fchmod(fd.get(), 0600) == 0 && ::fsync(fd.get()) == 0;
  fd.reset();
  const std::string final_path = spool_dir + "/" + name;
  if (!ok || ::rename(temp.c_str(), final_path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return unavailable(final_path + ": " + std::strerror(err));
  }
  if (auto st2 = fsync_dir(spool_dir); !st2) return st2.error();
  return name;
}

}  // namespace hoist::plugin
