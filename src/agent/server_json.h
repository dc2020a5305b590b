// hoistd's JSON answers to the agent, read into typed values. Pure (no
// I/O), so the fuzz target reads them too. Extra fields are fine (a newer
// hoistd); a missing or mistyped field the agent needs is InvalidArgument
// naming it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/state/agent_state.h"
#include "core/policy.h"
#include "core/request.h"
#include "core/result.h"

namespace hoist::agent {

// A request as hoistd reports it (the fields the agent uses).
struct ServerRequest {
  std::string id;
  RequestKind kind = RequestKind::kCommand;
  RequestState state = RequestState::kPending;  // effective at the time of the answer
  std::string requester;
  std::string reviewer;  // "" before a review
  std::string comment;
  std::string ended_by;    // who revoked or cancelled it ("" otherwise)
  std::string end_reason;  // and why
  std::optional<TimePoint> grant_deadline;
  std::int64_t time_left_s = 0;
  bool self_approval_allowed = false;  // the requester may approve it (approval = "self")
  std::string command_path;            // "" for a session
  std::optional<std::string> command_sha256;
  std::vector<std::string> argv;
  std::string runas_user{"root"};  // sudo -u of the request (hoistd before runas: root)
  std::string runas_group{};       // sudo -g, "" = none
};

struct SubmitOutcome {
  Action decision = Action::kDeny;  // the server's own evaluation
  std::string reason;
  std::string contact;
  std::int64_t approval_wait_s = 0;
  std::optional<ServerRequest> request;  // set when decision == kRequest
};

struct PolicyFetch {
  std::string etag;
  std::vector<std::string> labels;
  std::vector<PolicyDocument> documents;
};

struct PushMessage {
  std::uint64_t seq = 0;
  std::string kind;     // "request", "policy", ...
  std::string payload;  // JSON text
};

struct PushPage {
  std::vector<PushMessage> messages;
  std::uint64_t cursor = 0;  // the last seq seen (the next poll's `after`)
};

// The endpoint's own key for offline admin codes (docs/admin-codes.md).
struct CodesKey {
  std::uint32_t generation = 0;   // >= 1
  std::vector<std::uint8_t> key;  // 32 bytes
  bool operator==(const CodesKey&) const = default;
};

struct Enrolment {
  std::string endpoint_id;
  std::string credential;  // hoist_agent_...
  std::vector<std::string> labels;
  std::optional<CodesKey> codes_key;  // when hoistd has a code master key
};
Result<ServerRequest> server_request_from_json(std::string_view text);
Result<SubmitOutcome> submit_outcome_from_json(std::string_view text);
Result<PolicyFetch> policy_fetch_from_json(std::string_view text);
Result<PushPage> push_page_from_json(std::string_view text, std::uint64_t after);

Result<Enrolment> enrolment_from_json(std::string_view text);
// GET /api/v1/agent/codes-key: {"generation": N, "key": "<64 hex>"}.
Result<CodesKey> codes_key_from_json(std::string_view text);
Result<std::vector<std::string>> acknowledged_from_json(std::string_view text);

}  // namespace hoist::agent
