#include "platform/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "platform/unique_fd.h"

namespace hoist::platform {

namespace {

std::string errno_text(int err) {
  return std::system_category().message(err);
}  // thread-safe strerror

}  // namespace

Result<std::string> read_small_file(const std::string& path, std::size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) {
    const int err = errno;
    if (err == ENOENT) return not_found(fmt::format("{}: no such file", path));
    return unavailable(fmt::format("{}: cannot open: {}", path, errno_text(err)));
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return unavailable(fmt::format("{}: cannot stat: {}", path, errno_text(errno)));
  if (!S_ISREG(st.st_mode)) return invalid_argument(fmt::format("{}: not a regular file", path));
  if (static_cast<std::size_t>(st.st_size) > max_bytes) {
    return invalid_argument(fmt::format("{}: {} bytes is over the limit of {} bytes", path, st.st_size, max_bytes));
  }
  std::string out;
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return unavailable(fmt::format("{}: read error: {}", path, errno_text(errno)));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

}  // namespace hoist::platform
