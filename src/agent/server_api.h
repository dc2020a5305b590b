// What hoist-agent asks hoistd, as typed calls: enrolment, heartbeat, the
// effective policy (ETag), requests, the push channel and the event upload.
// One small interface so the agent's logic is tested against a fake; the
// real one speaks the REST API (docs/api.md) through net::ApiClient.
//
// MUST: every call fails with the server's own error (code and message) or
// Unavailable when hoistd cannot be reached; nothing here retries a write.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/server_json.h"
#include "agent/state/agent_state.h"
#include "core/evaluator.h"
#include "core/request.h"
#include "core/result.h"
#include "net/client/json_api.h"

namespace hoist::agent {

// What the agent knows about the command when it submits.
struct SubmitFacts {
  RequestKind kind = RequestKind::kCommand;
  std::string user;
  std::vector<std::string> groups;
  std::string justification;
  std::optional<std::int64_t> duration_s;
  std::string path;       // "" for a session; the path the program runs under (Executable::path)
  std::string real_path;  // the file behind a link under another name; "" otherwise
  std::vector<std::string> argv;
  RunAs runas{};  // sudo -u / -g
  std::optional<std::string> sha256;
  bool trusted_path = false;
  struct Package {
    std::string name, origin, maintainer;
    bool verified = false;
  };
  std::optional<Package> package;
};

// What hoistd said to an upload of events.
struct UploadReply {
  std::vector<std::string> acknowledged;  // the ids it stored, now or before
  // Set when hoistd refused the batch for what it holds (HTTP 400, 413 or
  // 422; 409: an id another endpoint used): sending the same events again
  // cannot succeed. hoistd's message. Any other failure (unreachable, 401,
  // 403, 404, 408, 429, 5xx) is an error of the call: nothing is wrong
  // with the events, they are sent again later.
  std::optional<std::string> refused;
};

class ServerApi {
 public:
  virtual ~ServerApi() = default;
  ServerApi() = default;
  ServerApi(const ServerApi&) = delete;
  ServerApi& operator=(const ServerApi&) = delete;

  virtual Status heartbeat(const std::string& agent_version) = 0;
  // nullopt: 304, the policy with `etag` is still current.
  virtual Result<std::optional<PolicyFetch>> fetch_policy(const std::string& etag) = 0;
  virtual Result<SubmitOutcome> submit(const SubmitFacts& facts) = 0;
  virtual Result<ServerRequest> request(const std::string& id) = 0;
  // The requester (a local user name the agent identified) withdraws it.
  virtual Result<ServerRequest> cancel(const std::string& id, const std::string& user) = 0;
  // The requester (a local user name the agent identified) approves their
  // own request, where hoistd allows it (POST .../self-approve; the agent
  // vouches for who asks). duration_s: nullopt keeps the requested one.
  virtual Result<ServerRequest> self_approve(const std::string& id, const std::string& user,
                                             std::optional<std::int64_t> duration_s, const std::string& comment) = 0;
  // This endpoint's current key for offline admin codes (GET
  // /api/v1/agent/codes-key); an error when hoistd has none.
  virtual Result<CodesKey> codes_key() = 0;
  // Waits up to `wait` for messages after `after` (acknowledging up to it).
  virtual Result<PushPage> poll_push(std::uint64_t after, std::chrono::seconds wait) = 0;
  // Sends the events, each one's details bounded (event_bounds.h).
  virtual Result<UploadReply> upload_events(const std::vector<OutboxEvent>& events) = 0;
  // Thread-safe: ends a call in progress (a long poll) and every later one.
  virtual void interrupt() = 0;
};

// The real one, over `client` (which adds nothing itself: this adds the
// endpoint credential to every call).
std::unique_ptr<ServerApi> make_server_api(std::unique_ptr<net::ApiClient> client, std::string credential);

// `inner` with one call at a time (HttpsClient is not thread-safe; the
// socket's connections and the push thread share the agent's server).
std::unique_ptr<ServerApi> serialized(std::unique_ptr<ServerApi> inner);

// POST /api/v1/agent/enrol with an enrolment token.
Result<Enrolment> enrol(net::ApiClient& client, const std::string& token, const std::string& hostname,
                        const std::string& agent_version);

}  // namespace hoist::agent
