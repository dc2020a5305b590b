#include "net/client/server_list.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace hoist::net {

namespace {

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Only for messages: a URL as given, shortened and without control bytes.
std::string shown(std::string_view url) {
  std::string out;
  for (const char c : url.substr(0, 100)) out += (c < ' ' || c == 0x7f) ? '?' : c;
  return url.size() > 100 ? out + "..." : out;
}

}  // namespace

Result<std::vector<std::string>> parse_server_list(const std::vector<std::string>& given) {
  std::vector<std::string> urls;
  for (const auto& item : given) {
    std::string_view rest = item;
    for (;;) {
      const auto comma = rest.find(',');
      const std::string_view url = trimmed(rest.substr(0, comma));
      if (url.empty()) {
        return invalid_argument(
            fmt::format("'{}' holds an empty server URL; give https://HOST[:PORT], several "
                        "separated by commas or with --server again",
                        shown(item)));
      }
      if (!url.starts_with("https://")) {
        return invalid_argument(
            fmt::format("'{}' is not an https:// URL; every server must be https://HOST[:PORT]", shown(url)));
      }
      if (std::find(urls.begin(), urls.end(), url) != urls.end()) {
        return invalid_argument(fmt::format("the server {} is given twice", shown(url)));
      }
      if (urls.size() == kMaxServers) {
        return invalid_argument(
            fmt::format("more than {} servers given; list at most {} (each one that does not "
                        "answer may cost a connection timeout)",
                        kMaxServers, kMaxServers));
      }
      urls.emplace_back(url);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (urls.empty()) return invalid_argument("no server given; give https://HOST[:PORT]");
  return urls;
}

std::string join_server_list(const std::vector<std::string>& urls) {
  return fmt::format("{}", fmt::join(urls, ","));
}

std::chrono::milliseconds rest_after(unsigned failures, double jitter, const Backoff& backoff) {
  if (failures == 0) return std::chrono::milliseconds(0);
  // Doubling stops once past max, so nothing overflows.
  auto rest = backoff.first;
  for (unsigned i = 1; i < failures && rest < backoff.max; ++i) rest *= 2;
  rest = std::min(rest, backoff.max);
  if (!(jitter >= 0.0)) jitter = 0.0;  // also NaN
  jitter = std::min(jitter, 1.0);
  const auto half = rest.count() / 2;
  const auto extra = static_cast<std::int64_t>(std::floor(static_cast<double>(rest.count() - half) * jitter));
  return std::chrono::milliseconds(std::min<std::int64_t>(half + extra, std::max<std::int64_t>(rest.count() - 1, 0)));
}

ServerRotation::ServerRotation(std::size_t count, Backoff backoff) : servers_(count), backoff_(backoff) {}

void ServerRotation::start_at(std::size_t index) {
  if (index < servers_.size()) current_ = index;
}

std::vector<std::size_t> ServerRotation::order(TimePoint now) const {
  std::vector<std::size_t> out;
  const std::size_t n = servers_.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (current_ + k) % n;
    if (servers_[i].rests_until <= now) out.push_back(i);
  }
  if (out.empty()) {
    for (std::size_t k = 0; k < n; ++k) out.push_back((current_ + k) % n);
    std::stable_sort(out.begin(), out.end(),
                     [&](std::size_t a, std::size_t b) { return servers_[a].rests_until < servers_[b].rests_until; });
  }
  return out;
}

void ServerRotation::succeeded(std::size_t index) {
  if (index >= servers_.size()) return;
  servers_[index] = Server{};
  current_ = index;
}

void ServerRotation::failed(std::size_t index, TimePoint now, double jitter) {
  if (index >= servers_.size()) return;
  auto& s = servers_[index];
  if (s.failures < 64) ++s.failures;
  s.rests_until = now + rest_after(s.failures, jitter, backoff_);
  if (index == current_) current_ = (current_ + 1) % servers_.size();
}

}  // namespace hoist::net
