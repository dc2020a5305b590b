#include "bench_support.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include <fmt/format.h>

namespace hoist::bench {

namespace json = boost::json;

namespace {

Result<std::string> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return not_found(fmt::format("cannot read {}", path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const json::value* at_pointer(const json::value& v, std::string_view pointer) {
  boost::system::error_code ec;
  return v.find_pointer(json::string_view(pointer.data(), pointer.size()), ec);
}

}  // namespace

Result<ReadyFile> read_ready_file(const std::string& path) {
  auto text = slurp(path);
  if (!text) {
    return text.error();
  }
  ReadyFile out;
  auto url = json_string_at(*text, "/url");
  auto port = json_u64_at(*text, "/port");
  auto ca = json_string_at(*text, "/ca_file");
  if (!url || !port || !ca) {
    return invalid_argument(fmt::format("{} lacks url, port or ca_file", path));
  }
  out.url = *url;
  out.port = static_cast<std::uint16_t>(*port);
  out.ca_file = *ca;
  return out;
}

Result<std::map<std::string, std::string>> read_env_file(const std::string& path) {
  auto text = slurp(path);
  if (!text) {
    return text.error();
  }
  std::map<std::string, std::string> out;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) {
      continue;
    }
    out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

Status write_env_file(const std::string& path, const std::map<std::string, std::string>& values) {
  std::string text;
  for (const auto& [k, v] : values) {
    text += k + "=" + v + "\n";
  }
  return write_private_file(path, text);
}

Status write_private_file(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return unavailable(fmt::format("cannot write {}", path));
  }
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) {
    return unavailable(fmt::format("cannot write {}", path));
  }
  return {};
}

const std::string kPolicyName = "bench";
const std::string kPolicyText = R"(version = 1

[settings]
default_action = "deny"
default_duration = "30m"
max_duration = "8h"
request_expiry = "1h"
contact = "The benchmark's approver."

[[rule]]
name = "installs"
action = "request"
path = "/usr/bin/apt-get"
approval = "manual"
max_duration = "2h"
)";

std::string submission_body(std::size_t i, std::string_view user) {
  const json::object body{
      {"user", user},
      {"groups", json::array{"staff"}},
      {"justification", fmt::format("bench ticket {}", i)},
      {"duration_s", 1800},
      {"command", json::object{{"path", "/usr/bin/apt-get"},
                               {"argv", json::array{"apt-get", "install", "curl"}},
                               {"sha256", "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6e0"},
                               {"trusted_path", true},
                               {"package", json::object{{"name", "apt"},
                                                        {"origin", "Debian"},
                                                        {"maintainer", "APT Development Team"},
                                                        {"verified", true}}}}}};
  return json::serialize(body);
}

std::string batch_user(std::size_t i) {
  return fmt::format("bench-user-{}", i % kBatchUsers);
}

std::optional<std::string> json_string_at(std::string_view json_text, std::string_view pointer) {
  boost::system::error_code ec;
  const auto v = json::parse(json::string_view(json_text.data(), json_text.size()), ec);
  if (ec) {
    return std::nullopt;
  }
  const auto* found = at_pointer(v, pointer);
  if (found == nullptr || !found->is_string()) {
    return std::nullopt;
  }
  return std::string(found->get_string());
}

std::optional<std::uint64_t> json_u64_at(std::string_view json_text, std::string_view pointer) {
  boost::system::error_code ec;
  const auto v = json::parse(json::string_view(json_text.data(), json_text.size()), ec);
  if (ec) {
    return std::nullopt;
  }
  const auto* found = at_pointer(v, pointer);
  if (found == nullptr) {
    return std::nullopt;
  }
  if (found->is_uint64()) {
    return found->get_uint64();
  }
  if (found->is_int64() && found->get_int64() >= 0) {
    return static_cast<std::uint64_t>(found->get_int64());
  }
  return std::nullopt;
}

Summary summarize(std::vector<double> samples_ms) {
  Summary s;
  s.n = samples_ms.size();
  if (samples_ms.empty()) {
    return s;
  }
  std::sort(samples_ms.begin(), samples_ms.end());
  const auto rank = [&](double q) {
    const auto k = static_cast<std::size_t>(q * static_cast<double>(samples_ms.size()) + 0.999999);
    return samples_ms[std::min(samples_ms.size() - 1, k == 0 ? 0 : k - 1)];
  };
  s.p50 = rank(0.50);
  s.p99 = rank(0.99);
  s.max = samples_ms.back();
  s.mean = std::accumulate(samples_ms.begin(), samples_ms.end(), 0.0) / static_cast<double>(samples_ms.size());
  return s;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::optional<std::int64_t> vm_rss_kib(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stoll(line.substr(6));
    }
  }
  return std::nullopt;
}

std::optional<std::size_t> open_fds(pid_t pid) {
  std::error_code ec;
  std::size_t n = 0;
  for (std::filesystem::directory_iterator it(fmt::format("/proc/{}/fd", pid), ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  if (ec) {
    return std::nullopt;
  }
  return n;
}

Result<Summary> fdatasync_latency(const std::string& dir, int n) {
  const std::string path = dir + "/fdatasync-probe";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return unavailable(fmt::format("cannot create {}", path));
  }
  std::array<char, 4096> block{};
  std::vector<double> samples;
  for (int i = 0; i < n; ++i) {
    const auto start = Clock::now();
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size()) || ::fdatasync(fd) != 0) {
      ::close(fd);
      ::unlink(path.c_str());
      return unavailable(fmt::format("cannot write and sync {}", path));
    }
    samples.push_back(ms_since(start));
  }
  ::close(fd);
  ::unlink(path.c_str());
  return summarize(std::move(samples));
}

}  // namespace hoist::bench
