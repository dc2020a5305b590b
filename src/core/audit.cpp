#include "core/audit.h"

#include <fmt/format.h>

namespace hoist {

namespace {

void put_u64(Sha256Stream& s, std::uint64_t v) {
  std::uint8_t b[8];
  for (int i = 7; i >= 0; --i) {
    b[i] = static_cast<std::uint8_t>(v & 0xff);
    v >>= 8;
  }
  s.update(std::span<const std::uint8_t>(b, 8));
}

void put_str(Sha256Stream& s, std::string_view v) {
  put_u64(s, v.size());
  s.update(v);
}

}  // namespace

Sha256 audit_event_hash(const AuditEvent& e) {
  Sha256Stream s;
  put_str(s, "hoist-audit-v1");
  put_u64(s, e.seq);
  put_u64(s, static_cast<std::uint64_t>(e.time.time_since_epoch().count()));
  put_str(s, e.actor);
  put_str(s, e.action);
  put_str(s, e.target);
  put_str(s, e.host);
  put_str(s, e.details);
  s.update(std::span<const std::uint8_t>(e.prev_hash.bytes));
  return s.finish();
}

AuditEvent chain_after(const std::optional<AuditEvent>& prev, AuditEvent e) {
  e.seq = prev ? prev->seq + 1 : 1;
  e.prev_hash = prev ? prev->hash : Sha256{};
  e.hash = audit_event_hash(e);
  return e;
}

ChainVerification verify_chain(std::span<const AuditEvent> events, const std::optional<ChainHead>& start,
                               const std::optional<ChainHead>& expected_head) {
  ChainVerification v;
  std::uint64_t want_seq = start ? start->seq + 1 : 1;
  Sha256 want_prev = start ? start->hash : Sha256{};
  for (const AuditEvent& e : events) {
    const auto fail = [&](std::string problem) {
      v.ok = false;
      v.first_bad_seq = want_seq;  // the position, not the (possibly forged) seq field
      v.problem = std::move(problem);
      return v;
    };
    if (e.seq != want_seq) {
      return fail(
          fmt::format("expected event {} but found {}: an event was deleted, inserted or reordered", want_seq, e.seq));
    }
    if (e.prev_hash != want_prev) {
      return fail(fmt::format("event {} does not follow the event before it: the chain was cut or reordered", e.seq));
    }
    if (audit_event_hash(e) != e.hash) {
      return fail(fmt::format("event {} was modified: its content does not match its hash", e.seq));
    }
    want_prev = e.hash;
    ++want_seq;
    ++v.events_checked;
  }
  if (expected_head) {
    const std::uint64_t last = want_seq - 1;
    if (last != expected_head->seq || want_prev != expected_head->hash) {
      v.ok = false;
      v.first_bad_seq = std::min(last, expected_head->seq) + 1;
      v.problem = fmt::format(
          "the trail ends at event {} but the recorded head is event {}: events were removed "
          "from the end or the head does not belong to this trail",
          last, expected_head->seq);
    }
  }
  return v;
}

}  // namespace hoist
