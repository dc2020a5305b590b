// `hoist audit verify`: the client recomputes the audit trail's hash chain
// itself from the events the API serves (GET /api/v1/audit?details=text), so
// a server whose database was edited cannot vouch for itself. Truncation of
// the newest events shows only against a head remembered from an earlier
// run (--expect-head SEQ:HASH).
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <optional>
#include <string_view>

#include "cli/api_client.h"
#include "core/audit.h"
#include "core/result.h"

namespace hoist::cli {

// An event of the API's JSON (details as text) as the core hashes it.
// InvalidArgument naming the field that is missing or malformed.
Result<AuditEvent> audit_event_from_json(const boost::json::value& event);

// "SEQ:HASH" (as `hoist audit verify` prints it).
Result<ChainHead> parse_chain_head(std::string_view text);

struct RemoteVerification {
  ChainVerification chain;
  ChainHead head;  // the last event checked (seq 0 for an empty trail)
};

// Reads the server's head, then every event up to it, `page` at a time,
// verifying as it goes. The head the server reports must be the last event
// read, and `expected_head`, when given, must be in the chain read: at its
// seq with its hash (so older trails verify against it after growing).
Result<RemoteVerification> verify_remote_chain(ApiClient& api, const std::optional<ChainHead>& expected_head,
                                               std::size_t page = 500);

}  // namespace hoist::cli
