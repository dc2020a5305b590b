#include "plugin/timestamp.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "platform/unique_fd.h"

namespace hoist::plugin {

namespace {

bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  out = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return true;
}

// Reads a small file through an open descriptor (at most `max` bytes).
std::string read_small(int fd, std::size_t max) {
  std::string out;
  char buf[512];
  while (out.size() < max) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace

std::uint64_t boot_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec);
}

Result<std::string> boot_id() {
  platform::UniqueFd fd(::open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return unavailable(std::string("cannot read this boot's id: ") + std::strerror(errno));
  std::string text = read_small(fd.get(), 64);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  const bool ok = text.size() == 36 && std::all_of(text.begin(), text.end(), [](char c) {
                    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-';
                  });
  if (!ok) return unavailable("this boot's id is not a UUID");
  return text;
}

std::string timestamp_record(std::uint64_t seconds, std::string_view boot) {
  return std::to_string(seconds) + " " + std::string(boot) + "\n";
}

bool timestamp_record_fresh(std::string_view text, std::uint64_t now, std::string_view boot) {
  if (boot.empty()) return false;
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  const auto space = text.find(' ');
  if (space == std::string_view::npos || text.substr(space + 1) != boot) return false;  // another boot, or none named
  std::uint64_t when = 0;
  if (!parse_u64(text.substr(0, space), when)) return false;
  return when <= now && now - when < kTimestampTimeout;
}

std::string TimestampKey::file_name() const {
  return std::to_string(uid) + "-" + std::to_string(tty_device) + "-" + std::to_string(sid) + "-" +
         std::to_string(start_time);
}

Result<std::uint64_t> process_start_time(std::int64_t pid) {
  if (pid <= 0) return unavailable("no process to key the timestamp on");
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  platform::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return unavailable(path + ": " + std::strerror(errno));
  const std::string stat = read_small(fd.get(), 4096);
  // The command name (field 2) is in parentheses and may hold anything;
  // the fields after the last ')' are plain numbers.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return unavailable(path + ": unexpected format");
  std::string_view rest = std::string_view(stat).substr(close + 1);
  // rest starts with " state ppid ..."; starttime is field 22, the 20th after ')'.
  for (int field = 3; field <= 22; ++field) {
    const auto start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) return unavailable(path + ": unexpected format");
    rest.remove_prefix(start);
    const auto end = std::min(rest.find(' '), rest.size());
    if (field == 22) {
      std::uint64_t v = 0;
      if (!parse_u64(rest.substr(0, end), v)) return unavailable(path + ": unexpected format");
      return v;
    }
    rest.remove_prefix(end);
  }
  return unavailable(path + ": unexpected format");
}

Result<TimestampKey> timestamp_key(const UserInfo& user) {
  TimestampKey key;
  key.uid = user.uid;
  std::int64_t anchor = 0;
  if (!user.tty.empty()) {
    struct stat st {};
    if (::stat(user.tty.c_str(), &st) != 0 || !S_ISCHR(st.st_mode)) {
      return unavailable(user.tty + ": not a terminal");
    }
    key.tty_device = static_cast<std::uint64_t>(st.st_rdev);
    anchor = user.sid.value_or(0);
  } else {
    anchor = user.ppid;
  }
  if (anchor <= 0) return unavailable("no session to key the timestamp on");
  auto start = process_start_time(anchor);
  if (!start) return start.error();
  key.sid = anchor;
  key.start_time = *start;
  return key;
}

Status TimestampStore::ready(bool create) const {
  if (dir_.empty() || dir_.front() != '/') return unavailable("no timestamp directory");
  struct stat st {};
  if (::lstat(dir_.c_str(), &st) != 0) {
    if (errno != ENOENT || !create) return unavailable(dir_ + ": " + std::strerror(errno));
    if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) return unavailable(dir_ + ": " + std::strerror(errno));
    if (::lstat(dir_.c_str(), &st) != 0) return unavailable(dir_ + ": " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077) != 0) {
    return unavailable(dir_ + " is not a directory owned by root with mode 0700; password caching is off");
  }
  return {};
}

bool TimestampStore::fresh(const TimestampKey& key) const {
  if (!ready(false)) return false;
  const std::string path = dir_ + "/" + key.file_name();
  platform::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.valid()) return false;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != 0) return false;
  const std::string text = read_small(fd.get(), 128);
  auto boot = boot_id();
  return boot && timestamp_record_fresh(text, boot_seconds(), *boot);
}

Status TimestampStore::update(const TimestampKey& key) const {
  if (auto st = ready(true); !st) return st;
  auto boot = boot_id();
  if (!boot) return boot.error();
  const std::string path = dir_ + "/" + key.file_name();
  std::string temp = dir_ + "/.tmp-XXXXXX";
  platform::UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd.valid()) return unavailable(dir_ + ": " + std::strerror(errno));
  const std::string text = timestamp_record(boot_seconds(), *boot);
  const bool ok =
      ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fchmod(fd.get(), 0600) == 0;
  fd.reset();
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return unavailable(path + ": " + std::strerror(err));
  }
  return {};
}

Status TimestampStore::remove_all(std::uint32_t uid) const {
  if (auto st = ready(false); !st) return st;
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return unavailable(dir_ + ": " + std::strerror(errno));
  const std::string prefix = std::to_string(uid) + "-";
  Status result;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (name.substr(0, prefix.size()) != prefix) continue;
    if (::unlinkat(::dirfd(d), e->d_name, 0) != 0 && errno != ENOENT) {
      result = unavailable(dir_ + "/" + std::string(name) + ": " + std::strerror(errno));
    }
  }
  ::closedir(d);
  return result;
}

}  // namespace hoist::plugin
