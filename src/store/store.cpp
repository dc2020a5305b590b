#include "store/store.h"

namespace hoist::store {

std::string_view to_string(Role role) {
  switch (role) {
    case Role::kAdmin: return "admin";
    case Role::kApprover: return "approver";
    case Role::kAuditor: return "auditor";
  }
  return "auditor";
}

std::optional<Role> parse_role(std::string_view text) {
  for (const Role r : {Role::kAdmin, Role::kApprover, Role::kAuditor}) {
    if (to_string(r) == text) return r;
  }
  return std::nullopt;
}

std::string_view to_string(IssuedCodeKind kind) {
  switch (kind) {
    case IssuedCodeKind::kResponse: return "response";
    case IssuedCodeKind::kPreIssued: return "preissued";
  }
  return "response";
}

std::optional<IssuedCodeKind> parse_issued_code_kind(std::string_view text) {
  for (const IssuedCodeKind k : {IssuedCodeKind::kResponse, IssuedCodeKind::kPreIssued}) {
    if (to_string(k) == text) return k;
  }
  return std::nullopt;
}

Result<ChainVerification> verify_stored_chain(Store& store, const std::optional<ChainHead>& expected_head,
                                              std::size_t page) {
  ChainVerification total;
  std::optional<ChainHead> start;
  std::uint64_t next = 1;
  for (;;) {
    auto events = store.audit_range(next, page);
    if (!events.ok()) return events.error();
    if (events->empty()) break;
    const auto v = verify_chain(*events, start);
    total.events_checked += v.events_checked;
    if (!v.ok) {
      total.ok = false;
      total.first_bad_seq = v.first_bad_seq;
      total.problem = v.problem;
      return total;
    }
    start = ChainHead{events->back().seq, events->back().hash};
    next = events->back().seq + 1;
    if (events->size() < page) break;
  }
  // The end of the trail against the remembered head (truncation).
  const auto tail = verify_chain({}, start, expected_head);
  if (!tail.ok) {
    total.ok = false;
    total.first_bad_seq = tail.first_bad_seq;
    total.problem = tail.problem;
  }
  return total;
}

}  // namespace hoist::store
