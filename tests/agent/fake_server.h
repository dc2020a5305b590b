// hoistd as the agent's logic sees it, for the agent's unit tests: answers
// set by the test, calls recorded.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/server_api.h"

namespace hoist::agent {

// hoistd as the agent's logic sees it: answers set by the test, calls recorded.
class FakeServer final : public ServerApi {
 public:
  Status heartbeat(const std::string& /*agent_version*/) override { return {}; }
  Result<std::optional<PolicyFetch>> fetch_policy(const std::string& /*etag*/) override {
    return std::optional<PolicyFetch>();
  }
  Result<SubmitOutcome> submit(const SubmitFacts& /*facts*/) override {
    if (submit_answer) return *submit_answer;
    SubmitOutcome out;
    out.decision = Action::kRequest;
    out.request = next_submit;
    return out;
  }
  Result<ServerRequest> request(const std::string& id) override {
    if (id == stored.id) return stored;
    return not_found("no such request");
  }
  Result<ServerRequest> cancel(const std::string& /*id*/, const std::string& /*user*/) override {
    return cancel_answer;
  }
  Result<ServerRequest> self_approve(const std::string& id, const std::string& user,
                                     std::optional<std::int64_t> duration_s, const std::string& comment) override {
    self_approvals.push_back(id + " " + user + " " + (duration_s ? std::to_string(*duration_s) : "-") + " " + comment);
    if (!approve_answer) return approve_answer.error();
    return *approve_answer;
  }
  Result<CodesKey> codes_key() override {
    if (!codes_key_answer) return unavailable("hoistd has no code master key");
    return *codes_key_answer;
  }
  Result<PushPage> poll_push(std::uint64_t /*after*/, std::chrono::seconds /*wait*/) override { return PushPage{}; }
  // Acknowledges every event, except that a batch holding an event whose
  // payload contains `refuse_marker` is refused (HTTP 400) whole, as hoistd
  // refuses a body with one bad event; while `unreachable` is set every
  // upload fails as a transport error.
  Result<UploadReply> upload_events(const std::vector<OutboxEvent>& events) override {
    uploads.push_back(events.size());
    if (unreachable) return unavailable("hoistd cannot be reached");
    UploadReply reply;
    for (const auto& e : events) {
      if (!refuse_marker.empty() && e.payload.find(refuse_marker) != std::string::npos) {
        reply.refused = "field \"events[0].details\" is longer than 16384 bytes";
        return reply;
      }
    }
    for (const auto& e : events) {
      reply.acknowledged.push_back(e.id);
      uploaded.push_back(e);
    }
    return reply;
  }
  void interrupt() override {}

  ServerRequest next_submit;
  // When set, submit answers this instead of a request for next_submit.
  std::optional<Result<SubmitOutcome>> submit_answer;
  Result<ServerRequest> cancel_answer = internal_error("not used");
  ServerRequest stored;
  std::optional<CodesKey> codes_key_answer;
  Result<ServerRequest> approve_answer = internal_error("not set");
  std::vector<std::string> self_approvals;
  std::string refuse_marker;
  bool unreachable = false;
  std::vector<std::size_t> uploads;  // the size of each upload call's batch
  std::vector<OutboxEvent> uploaded;
};

}  // namespace hoist::agent
