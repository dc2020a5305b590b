// An ApiClient over several hoistd URLs (replicas): each call goes to the
// URL that answered last and moves down the list when that one cannot be
// reached. The choice is net/client/server_list.h's (pure); this file does
// the I/O with one HttpsClient per URL.
//
// MUST: every URL is trusted exactly as ClientOptions says (the same pin
// or CA for all); a server that fails the trust check is an error of that
// server: the next URL is tried, that one is never used.
// MUST: a request is sent to another URL only when it cannot have been
// processed where it went: nothing of it was sent (connection refused or
// reset, no answer within connect_timeout, TLS or trust failure), or the
// server answered 503 (hoistd cannot reach its database, or is stopping;
// it did nothing). A GET, HEAD or OPTIONS that failed after it was sent
// goes on too (safe to repeat); any other method then fails with the
// error, and the URL rests, so the next call goes elsewhere.
// MUST: any other HTTP answer (2xx to 5xx but 503) is the answer: it is
// returned as it is, and that URL stays the current one.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "net/client/https_client.h"
#include "net/client/json_api.h"
#include "net/client/server_list.h"

namespace hoist::net {

// The URLs and their rotation, shared by every client of a program that
// talks to the same servers (the agent's three), so that what one learns
// (a server is down, another answers) the others use. Thread-safe.
class ServerSet {
 public:
  // `urls`: a list parse_server_list accepted. `on_answer` is called, on
  // the calling thread, whenever a URL answers that did not answer the
  // call before (the first answer included).
  explicit ServerSet(std::vector<std::string> urls, Backoff backoff = {},
                     std::function<void(const std::string& url)> on_answer = {});

  [[nodiscard]] const std::vector<std::string>& urls() const { return urls_; }
  // The URL that answered last, or "" before any did.
  [[nodiscard]] std::string answered() const;

  // Tries `url` first from now on, until it fails (the URL that answered
  // before a restart); false, changing nothing, when it is not in the list.
  bool start_with(const std::string& url);

  [[nodiscard]] std::vector<std::size_t> order();
  void succeeded(std::size_t index);
  void failed(std::size_t index);

 private:
  std::vector<std::string> urls_;
  std::function<void(const std::string&)> on_answer_;
  mutable std::mutex mu_;
  ServerRotation rotation_;
  std::optional<std::size_t> answered_;
  std::minstd_rand jitter_;
};

class FailoverApiClient final : public ApiClient {
 public:
  // One HttpsClient per URL of `servers`, each made from `options` with its
  // url replaced; fails as HttpsClient::create does for the first URL it
  // cannot use. `headers` are added to every request.
  static Result<std::unique_ptr<FailoverApiClient>> create(std::shared_ptr<ServerSet> servers,
                                                           const ClientOptions& options,
                                                           std::vector<Header> headers = {});

  // One exchange, with the failover rule above. When no URL answered, the
  // error says what each one tried did (a 503 answer, when one came, is
  // returned as the answer).
  Result<HttpResponse> send(std::string_view method, std::string_view target, std::string_view body,
                            const std::vector<Header>& headers) override;
  void interrupt() override;
  void set_headers(std::vector<Header> headers) { headers_ = std::move(headers); }

  FailoverApiClient(std::shared_ptr<ServerSet> servers, std::vector<std::unique_ptr<HttpsClient>> clients,
                    std::vector<Header> headers)
      : servers_(std::move(servers)), clients_(std::move(clients)), headers_(std::move(headers)) {}

 private:
  std::shared_ptr<ServerSet> servers_;
  std::vector<std::unique_ptr<HttpsClient>> clients_;  // one per URL, fixed at creation
  std::vector<Header> headers_;
  std::atomic<bool> interrupted_{false};
};

}  // namespace hoist::net
