#include "net/client/failover_client.h"

#include <fmt/format.h>

#include <chrono>

namespace hoist::net {

namespace {

bool is_safe_method(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS";
}

}  // namespace

ServerSet::ServerSet(std::vector<std::string> urls, Backoff backoff,
                     std::function<void(const std::string& url)> on_answer)
    : urls_(std::move(urls)),
      on_answer_(std::move(on_answer)),
      rotation_(urls_.size(), backoff),
      jitter_(static_cast<std::minstd_rand::result_type>(std::chrono::steady_clock::now().time_since_epoch().count())) {
}

std::string ServerSet::answered() const {
  const std::lock_guard lock(mu_);
  return answered_ ? urls_.at(*answered_) : std::string();
}

bool ServerSet::start_with(const std::string& url) {
  const std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < urls_.size(); ++i) {
    if (urls_[i] != url) continue;
    rotation_.start_at(i);
    return true;
  }
  return false;
}

std::vector<std::size_t> ServerSet::order() {
  const std::lock_guard lock(mu_);
  return rotation_.order(std::chrono::steady_clock::now());
}

void ServerSet::succeeded(std::size_t index) {
  bool changed = false;
  {
    const std::lock_guard lock(mu_);
    rotation_.succeeded(index);
    changed = answered_ != index;
    answered_ = index;
  }
  if (changed && on_answer_) on_answer_(urls_.at(index));
}

void ServerSet::failed(std::size_t index) {
  const std::lock_guard lock(mu_);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  rotation_.failed(index, std::chrono::steady_clock::now(), unit(jitter_));
}

Result<std::unique_ptr<FailoverApiClient>> FailoverApiClient::create(std::shared_ptr<ServerSet> servers,
                                                                     const ClientOptions& options,
                                                                     std::vector<Header> headers) {
  if (!servers || servers->urls().empty()) return invalid_argument("no server URL to connect to (this is a bug)");
  std::vector<std::unique_ptr<HttpsClient>> clients;
  for (const auto& url : servers->urls()) {
    ClientOptions one = options;
    one.url = url;
    auto client = HttpsClient::create(std::move(one));
    if (!client) return client.error();
    clients.push_back(std::move(*client));
  }
  return std::make_unique<FailoverApiClient>(std::move(servers), std::move(clients), std::move(headers));
}

Result<HttpResponse> FailoverApiClient::send(std::string_view method, std::string_view target, std::string_view body,
                                             const std::vector<Header>& headers) {
  std::vector<Header> all = headers_;
  all.insert(all.end(), headers.begin(), headers.end());
  std::vector<std::string> failures;
  std::optional<HttpResponse> unavailable_answer;
  std::optional<Error> untrusted;
  for (const std::size_t i : servers_->order()) {
    if (interrupted_) break;
    auto& client = *clients_.at(i);
    auto reply = client.request(method, target, body, all);
    if (interrupted_) return reply;
    if (reply && reply->status != 503) {
      servers_->succeeded(i);
      return reply;
    }
    if (reply) {
      failures.push_back(fmt::format("{} answered 503 ({})", servers_->urls()[i], error_from_reply(*reply).message));
      servers_->failed(i);
      unavailable_answer = std::move(*reply);
      continue;
    }
    const auto code = reply.error().code;
    if (code != ErrorCode::kUnavailable && code != ErrorCode::kPermissionDenied) {
      return reply;  // a request this client cannot send, or a bug: no server is at fault
    }
    servers_->failed(i);
    if (!client.last_failure_was_before_sending() && !is_safe_method(method)) {
      return reply;  // it may have been processed there: never sent twice
    }
    if (code == ErrorCode::kPermissionDenied && !untrusted) untrusted = reply.error();
    failures.push_back(reply.error().message);
  }
  if (interrupted_) return unavailable("the HTTPS client was interrupted (the program is stopping)");
  if (unavailable_answer) return std::move(*unavailable_answer);
  if (failures.size() == 1) return untrusted ? *untrusted : unavailable(failures.front());
  const std::string all_failures = fmt::format("{}", fmt::join(failures, "; "));
  if (untrusted) {
    return permission_denied(fmt::format("no trusted hoistd answered: {}", all_failures));
  }
  return unavailable(fmt::format("no hoistd answered: {}", all_failures));
}

void FailoverApiClient::interrupt() {
  interrupted_ = true;
  for (auto& client : clients_) client->interrupt();
}

}  // namespace hoist::net
