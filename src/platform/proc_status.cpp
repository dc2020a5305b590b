#include "platform/proc_status.h"

#include <dirent.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <unistd.h>

#include "platform/unique_fd.h"

namespace hoist::platform {

namespace {

// The value after "Key:" on its own line, without leading blanks.
std::optional<std::string_view> field(std::string_view text, std::string_view key) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const auto line = text.substr(pos, end - pos);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':') {
      auto value = line.substr(key.size() + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      return value;
    }
    pos = end + 1;
  }
  return std::nullopt;
}

// The first whitespace-separated decimal number of `value`, and the rest.
template <class T>
std::optional<T> leading_number(std::string_view& value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  T out{};
  const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || p == value.data()) return std::nullopt;
  value.remove_prefix(static_cast<std::size_t>(p - value.data()));
  if (!value.empty() && value.front() != ' ' && value.front() != '\t') return std::nullopt;
  return out;
}

// A /proc file (its size reads as 0: read to the end), at most max bytes.
std::optional<std::string> read_proc_file(const std::string& path, std::size_t max) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  std::string out(max, '\0');
  std::size_t got = 0;
  while (got < max) {
    const ssize_t n = ::read(fd.get(), out.data() + got, max - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

Error bad(std::string_view key) {
  return invalid_argument("a missing or malformed \"" + std::string(key) + "\" line in the process status");
}

}  // namespace

Result<ProcStatus> parse_proc_status(std::string_view text) {
  ProcStatus out;
  auto state = field(text, "State");
  if (!state || state->empty() || !std::isalpha(static_cast<unsigned char>(state->front()))) return bad("State");
  out.state = state->front();
  auto ppid = field(text, "PPid");
  if (!ppid) return bad("PPid");
  auto p = leading_number<pid_t>(*ppid);
  if (!p || *p < 0) return bad("PPid");
  out.ppid = *p;
  auto tracer = field(text, "TracerPid");
  if (!tracer) return bad("TracerPid");
  auto t = leading_number<pid_t>(*tracer);
  if (!t || *t < 0) return bad("TracerPid");
  out.tracer_pid = *t;
  auto uid = field(text, "Uid");
  if (!uid) return bad("Uid");
  auto real = leading_number<uid_t>(*uid);
  auto effective = leading_number<uid_t>(*uid);
  if (!real || !effective) return bad("Uid");
  out.real_uid = *real;
  out.effective_uid = *effective;
  return out;
}

Result<std::optional<ProcSyscall>> parse_proc_syscall(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text == "running") return std::optional<ProcSyscall>();
  ProcSyscall out;
  auto rest = text;
  auto number = leading_number<long>(rest);
  if (!number) return invalid_argument("a malformed process syscall line");
  if (*number < 0) return std::optional<ProcSyscall>();
  out.number = *number;
  for (auto& arg : out.args) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.size() < 3 || rest.substr(0, 2) != "0x") return invalid_argument("a malformed process syscall line");
    rest.remove_prefix(2);
    const auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), arg, 16);
    if (ec != std::errc() || p == rest.data()) return invalid_argument("a malformed process syscall line");
    rest.remove_prefix(static_cast<std::size_t>(p - rest.data()));
  }
  return std::optional<ProcSyscall>(out);
}

Result<ProcStatus> read_proc_status(pid_t pid) {
  auto text = read_proc_file("/proc/" + std::to_string(pid) + "/status", 16 * 1024);
  if (!text) return not_found("process " + std::to_string(pid) + " is gone");
  return parse_proc_status(*text);
}

Result<std::uint32_t> parse_proc_stat_tty(std::string_view text) {
  const auto close = text.rfind(')');
  if (close == std::string_view::npos) return invalid_argument("/proc stat: no command name");
  // After ") ": state ppid pgrp session tty_nr.
  std::string_view rest = text.substr(close + 1);
  for (int field = 3; field <= 7; ++field) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    const auto end = rest.find(' ');
    const std::string_view value = rest.substr(0, end);
    if (value.empty()) return invalid_argument("/proc stat: too few fields");
    if (field == 7) {
      long long n = 0;
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || ptr != value.data() + value.size() || n < 0 || n > 0xffffffffLL) {
        return invalid_argument("/proc stat: tty_nr is not a device number");
      }
      return static_cast<std::uint32_t>(n);
    }
    if (end == std::string_view::npos) return invalid_argument("/proc stat: too few fields");
    rest.remove_prefix(end);
  }
  return invalid_argument("/proc stat: too few fields");  // not reached
}

std::optional<std::string> terminal_path(std::uint32_t tty_nr) {
  // The kernel's new_encode_dev: minor's low byte, major, minor's high bits.
  const std::uint32_t major = (tty_nr >> 8) & 0xfffU;
  const std::uint32_t minor = (tty_nr & 0xffU) | ((tty_nr >> 12) & 0xfff00U);
  if (major >= 136 && major <= 143) return "/dev/pts/" + std::to_string((major - 136) * 256 + minor);
  if (major == 4 && minor >= 1 && minor <= 63) return "/dev/tty" + std::to_string(minor);
  return std::nullopt;
}

Result<std::uint32_t> read_proc_stat_tty(pid_t pid) {
  auto text = read_proc_file("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!text) return not_found("process " + std::to_string(pid) + " is gone");
  return parse_proc_stat_tty(*text);
}

Result<std::optional<ProcSyscall>> read_proc_syscall(pid_t pid) {
  auto text = read_proc_file("/proc/" + std::to_string(pid) + "/syscall", 1024);
  if (!text) return not_found("process " + std::to_string(pid) + " is gone");
  return parse_proc_syscall(*text);
}

std::vector<pid_t> list_pids() {
  std::vector<pid_t> out;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return out;
  while (const dirent* e = ::readdir(dir)) {
    pid_t pid = 0;
    const std::string_view name(e->d_name);
    const auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec == std::errc() && p == name.data() + name.size() && pid > 0) out.push_back(pid);
  }
  ::closedir(dir);
  return out;
}

}  // namespace hoist::platform
