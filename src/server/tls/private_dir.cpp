#include "server/tls/private_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <array>
#include <cerrno>
#include <cstdint>
#include <system_error>

namespace hoist::tls {

namespace {

using platform::UniqueFd;

constexpr std::size_t kMaxFileBytes = std::size_t{1024} * 1024;

std::string errno_text(int err) {
  return std::system_category().message(err);
}

Result<std::string> temp_name_for(const std::string& name) {
  std::array<std::uint8_t, 8> raw{};
  if (getrandom(raw.data(), raw.size(), 0) != static_cast<ssize_t>(raw.size())) {
    return unavailable(fmt::format("cannot name a temporary file for {}: getrandom: {}", name, errno_text(errno)));
  }
  std::string out = "." + name + ".tmp-";
  for (const std::uint8_t b : raw) out += fmt::format("{:02x}", b);
  return out;
}

Status write_all(int fd, std::string_view content) {
  while (!content.empty()) {
    const ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return unavailable("write error: " + errno_text(errno));
    if (n == 0) return unavailable("write error: nothing was written");
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

}  // namespace

Result<std::string> read_checked_file(int dirfd, const std::string& name, std::string_view shown_as, FileKind kind,
                                      Symlinks symlinks) {
  int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  if (symlinks == Symlinks::kRefuse) flags |= O_NOFOLLOW;
  const UniqueFd fd(::openat(dirfd, name.c_str(), flags));
  if (!fd.valid()) {
    const int err = errno;
    if (err == ENOENT) return not_found(fmt::format("{}: no such file", shown_as));
    if (err == ELOOP && symlinks == Symlinks::kRefuse) {
      return invalid_argument(
          fmt::format("{} is a symlink; hoistd does not follow symlinks in its TLS directory: replace the link with "
                      "the file",
                      shown_as));
    }
    return unavailable(fmt::format("{}: cannot open: {}", shown_as, errno_text(err)));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return unavailable(fmt::format("{}: cannot stat: {}", shown_as, errno_text(errno)));
  if (!S_ISREG(st.st_mode)) return invalid_argument(fmt::format("{} is not a regular file", shown_as));
  if (kind == FileKind::kPrivateKey) {
    if (st.st_uid != ::geteuid() && st.st_uid != 0) {
      return invalid_argument(
          fmt::format("{} is owned by uid {}; a private key must be owned by hoistd's user (uid {}) or root: chown it",
                      shown_as, st.st_uid, ::geteuid()));
    }
    if ((st.st_mode & 077) != 0) {
      return invalid_argument(fmt::format(
          "{} is a private key that group or others can access (mode {:04o}); run chmod 600 {} (and consider the key "
          "exposed)",
          shown_as, st.st_mode & 07777, shown_as));
    }
  }
  if (static_cast<std::size_t>(st.st_size) > kMaxFileBytes) {
    return invalid_argument(
        fmt::format("{}: {} bytes is over the limit of {} bytes", shown_as, st.st_size, kMaxFileBytes));
  }
  std::string out(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return unavailable(fmt::format("{}: read error: {}", shown_as, errno_text(errno)));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

Result<PrivateDir> PrivateDir::open_or_create(const std::string& path) {
  if (path.empty()) return invalid_argument("the TLS directory is not set");
  bool created = false;
  if (::mkdir(path.c_str(), 0700) == 0) {
    created = true;
  } else if (errno != EEXIST) {
    return unavailable(fmt::format("cannot create the TLS directory {}: {}", path, errno_text(errno)));
  }
  struct stat link_st {};
  if (::lstat(path.c_str(), &link_st) != 0) {
    return unavailable(fmt::format("cannot stat the TLS directory {}: {}", path, errno_text(errno)));
  }
  if (S_ISLNK(link_st.st_mode)) {
    return invalid_argument(
        fmt::format("the TLS directory {} is a symlink; hoistd keeps its keys only in a real directory: replace the "
                    "link with a directory owned by hoistd's user with mode 0700",
                    path));
  }
  if (!S_ISDIR(link_st.st_mode)) {
    return invalid_argument(fmt::format("the TLS directory {} exists and is not a directory", path));
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return unavailable(fmt::format("cannot open the TLS directory {}: {}", path, errno_text(errno)));
  // umask may have narrowed mkdir's mode; 0700 is what was meant.
  if (created && ::fchmod(fd.get(), 0700) != 0) {
    return unavailable(fmt::format("cannot chmod the TLS directory {}: {}", path, errno_text(errno)));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return unavailable(fmt::format("cannot stat the TLS directory {}: {}", path, errno_text(errno)));
  }
  if (st.st_dev != link_st.st_dev || st.st_ino != link_st.st_ino) {
    return unavailable(fmt::format("the TLS directory {} changed while it was being checked; try again", path));
  }
  if (st.st_uid != ::geteuid()) {
    return invalid_argument(
        fmt::format("the TLS directory {} is owned by uid {}, not by hoistd's user (uid {}): chown it", path, st.st_uid,
                    ::geteuid()));
  }
  if ((st.st_mode & 022) != 0) {
    return invalid_argument(
        fmt::format("the TLS directory {} is writable by group or others (mode {:04o}); run chmod 700 {}", path,
                    st.st_mode & 07777, path));
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return unavailable(fmt::format("another process is setting up TLS in {} (is hoistd already running?)", path));
    }
    return unavailable(fmt::format("cannot lock the TLS directory {}: {}", path, errno_text(errno)));
  }
  return PrivateDir(path, std::move(fd));
}

std::string PrivateDir::path_of(std::string_view name) const {
  return fmt::format("{}/{}", path_, name);
}

Result<std::optional<std::string>> PrivateDir::read(const std::string& name, FileKind kind) const {
  auto text = read_checked_file(fd_.get(), name, path_of(name), kind, Symlinks::kRefuse);
  if (text) return std::optional<std::string>(std::move(*text));
  if (text.error().code == ErrorCode::kNotFound) return std::optional<std::string>();
  return text.error();
}

Status PrivateDir::replace(const std::string& name, std::string_view content, mode_t mode) const {
  const std::string shown_as = path_of(name);
  auto temp = temp_name_for(name);
  if (!temp) return temp.error();
  UniqueFd fd(::openat(fd_.get(), temp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd.valid())
    return unavailable(fmt::format("cannot create a temporary file for {}: {}", shown_as, errno_text(errno)));
  const auto fail = [&](std::string what) -> Status {
    ::unlinkat(fd_.get(), temp->c_str(), 0);
    return unavailable(fmt::format("{}: {}", shown_as, what));
  };
  // The mode given to openat is narrowed by the umask.
  if (::fchmod(fd.get(), mode) != 0) return fail("cannot chmod: " + errno_text(errno));
  if (auto written = write_all(fd.get(), content); !written) return fail(written.error().message);
  if (::fsync(fd.get()) != 0) return fail("fsync: " + errno_text(errno));
  if (::close(fd.release()) != 0) return fail("close: " + errno_text(errno));
  if (::renameat(fd_.get(), temp->c_str(), fd_.get(), name.c_str()) != 0) return fail("rename: " + errno_text(errno));
  return {};
}

Status PrivateDir::sync() const {
  if (::fsync(fd_.get()) != 0) return unavailable(fmt::format("cannot fsync {}: {}", path_, errno_text(errno)));
  return {};
}

}  // namespace hoist::tls
