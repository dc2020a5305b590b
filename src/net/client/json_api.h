// How the CLI and the agent talk to hoistd's JSON API: one small interface
// (tests use a fake), the real one over HttpsClient, and helpers that turn
// replies into JSON values or into the server's Error.
#pragma once

#include <boost/json/value.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "net/client/https_client.h"
#include "net/http_message.h"

namespace hoist::net {

class ApiClient {
 public:
  virtual ~ApiClient() = default;
  ApiClient() = default;
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // One HTTP exchange. A Result error means no reply (see
  // HttpsClient::request); any status is a reply.
  virtual Result<HttpResponse> send(std::string_view method, std::string_view target, std::string_view body,
                                    const std::vector<Header>& headers) = 0;
  // Thread-safe: ends a call in progress and every later one (Unavailable).
  virtual void interrupt() {}
};

// An ApiClient over HTTPS that adds `headers` (the bearer token, a session
// cookie) to every request.
class HttpsApiClient final : public ApiClient {
 public:
  HttpsApiClient(std::unique_ptr<HttpsClient> client, std::vector<Header> headers)
      : client_(std::move(client)), headers_(std::move(headers)) {}
  Result<HttpResponse> send(std::string_view method, std::string_view target, std::string_view body,
                            const std::vector<Header>& headers) override;
  void set_headers(std::vector<Header> headers) { headers_ = std::move(headers); }
  void interrupt() override { client_->interrupt(); }

 private:
  std::unique_ptr<HttpsClient> client_;
  std::vector<Header> headers_;
};

// The error a non-2xx reply stands for: the code and message of the
// server's {"error":{"code","message"}} body, or the status's category
// when the body is not that (a proxy's page).
Error error_from_reply(const HttpResponse& reply);

// Sends `body` (JSON, or nothing when null) and returns the JSON reply of a
// 2xx answer, or the reply's error. A 2xx reply that is not JSON is an
// Internal error.
Result<boost::json::value> call_json(ApiClient& api, std::string_view method, std::string_view target,
                                     const boost::json::value& body = nullptr, const std::vector<Header>& headers = {});

// A path segment or query value percent-encoded (RFC 3986 unreserved
// characters are kept).
std::string url_encode(std::string_view text);

// "?k=v&k2=v2" from the pairs whose value is not empty ("" when none).
std::string query_string(const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace hoist::net
