// GET /metrics: hoistd's metrics in Prometheus's text format, for a
// scraper with the metrics token (docs/metrics.md). See api.h for the
// rules it keeps.
#include <chrono>

#include "net/http_error.h"
#include "server/api/api_impl.h"
#include "server/auth/secrets.h"

namespace hoist::api {

net::HttpResponse Api::Impl::metrics_route(const net::HttpRequest& request) {
  if (deps.metrics == nullptr || options.metrics_token_hash.empty()) {
    return console(request);  // no metrics here: the same answer as any other path outside the API
  }
  // The credential first, whatever the method: without it nothing is told.
  bool allowed = false;
  if (const auto authz = request.header("authorization")) {
    constexpr std::string_view kBearer = "Bearer ";
    if (authz->starts_with(kBearer)) {
      // Another kind of token (an admin's API token, an agent's credential)
      // fails to parse: each secret does one thing.
      const auto token = auth::parse_secret_token(authz->substr(kBearer.size()), auth::kMetricsTokenKind);
      allowed = token && auth::secret_matches(options.metrics_token_hash, token->secret);
    }
  }
  if (!allowed) {
    auto refused = net::error_response(
        unauthenticated("GET /metrics needs the metrics token: send Authorization: Bearer hoist_metrics_..."));
    refused.set_header("www-authenticate", "Bearer realm=\"hoist\"");
    return refused;
  }
  if (request.method != "GET" && request.method != "HEAD") {
    auto r = net::error_response(invalid_argument("the metrics are read with GET"));
    r.status = 405;
    r.set_header("allow", "GET, HEAD");
    return r;
  }
  net::HttpResponse r;
  r.set_header("content-type", std::string(metrics::kContentType));
  r.body = deps.metrics->scrape(std::chrono::steady_clock::now());
  return r;
}

}  // namespace hoist::api
