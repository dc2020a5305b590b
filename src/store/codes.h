// Offline admin codes hoistd issued (docs/admin-codes.md), and what the
// endpoints reported about their use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.h"
#include "core/result.h"
#include "store/page.h"

namespace hoist::store {

// An offline admin code hoistd issued. Never the code itself: hoistd can
// recompute any code from its master key, so storing one would only give
// a copy of the database something to steal.
enum class IssuedCodeKind { kResponse, kPreIssued };
std::string_view to_string(IssuedCodeKind kind);  // "response", "preissued"
std::optional<IssuedCodeKind> parse_issued_code_kind(std::string_view text);

struct IssuedCode {
  std::int64_t id = 0;  // given by the store
  std::string endpoint_id;
  IssuedCodeKind kind = IssuedCodeKind::kResponse;
  std::int64_t ref = 0;  // the challenge's nonce (response) or the pre-issued id
  std::uint32_t generation = 1;
  std::string user;
  std::int64_t duration_s = 0;
  std::string command;  // "" for a session
  std::string issued_by;
  TimePoint issued_at{};
  std::optional<TimePoint> valid_until;  // pre-issued codes only
  std::optional<TimePoint> used_at;      // as the endpoint reported it
  std::optional<std::string> used_event_id;
};

struct IssuedCodeFilter {
  std::optional<std::string> endpoint_id;
  std::optional<std::string> user;
  std::size_t limit = 100;  // at most kMaxPage
};

// What an endpoint reported about a code's use: matched against the codes
// issued for it.
struct CodeUse {
  std::string endpoint_id;
  IssuedCodeKind kind = IssuedCodeKind::kResponse;
  std::int64_t ref = 0;
  std::uint32_t generation = 1;
  std::string user;
  TimePoint used_at{};
  std::string event_id;  // the agent's event that reported it
};

// Inside a write transaction.
class CodesTx {
 public:
  virtual ~CodesTx() = default;
  // Records an issued code (code.id is ignored) and returns it with its id.
  // Conflict when the endpoint's codes key is no longer at
  // code.generation (rotated meanwhile: the code would not fit); NotFound
  // for an unknown or retired endpoint; InvalidArgument for an empty user
  // or issuer.
  virtual Result<IssuedCode> insert_issued_code(const IssuedCode& code) = 0;
  // Marks the newest unused code matching the use's endpoint, kind, ref,
  // generation and user as used; returns its id, or nullopt when none
  // matches (already used, never issued here, or issued for another key).
  virtual Result<std::optional<std::int64_t>> mark_code_used(const CodeUse& use) = 0;
};

class CodesReader {
 public:
  virtual ~CodesReader() = default;
  // Issued codes matching the filter, newest first, at most filter.limit.
  virtual Result<std::vector<IssuedCode>> issued_codes(const IssuedCodeFilter& filter) = 0;
};

}  // namespace hoist::store
