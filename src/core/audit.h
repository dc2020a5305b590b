// The audit trail's event model and hash chain. Each event's hash covers its
// own fields and the previous event's hash, so verify_chain finds any edited,
// deleted, inserted or reordered event. Truncating the newest events is only
// visible against a remembered head (expected_head), which the server keeps
// apart from the events and prints with `hoist audit verify`.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "core/sha256.h"

namespace hoist {

using AuditTime = std::chrono::sys_time<std::chrono::milliseconds>;

struct AuditEvent {
  std::uint64_t seq = 0;  // 1, 2, 3, ... without gaps
  AuditTime time{};
  std::string actor;   // who: a user name, "agent:<host>", "system"
  std::string action;  // what: an AuditKind's text (core/audit_kind.h), "request.created", ...
  std::string target;  // the object: a request id, a policy name, ...
  std::string host;
  std::string details;  // JSON object text, as recorded
  Sha256 prev_hash;     // zeros for the first event
  Sha256 hash;
};

// Hash of the event's fields and prev_hash (not of `hash` itself), over a
// length-prefixed, versioned encoding so no two field lists collide.
Sha256 audit_event_hash(const AuditEvent& e);

// Fills seq, prev_hash and hash of `e` to follow `prev` (nullopt for the
// first event of a trail).
AuditEvent chain_after(const std::optional<AuditEvent>& prev, AuditEvent e);

struct ChainHead {
  std::uint64_t seq = 0;
  Sha256 hash;
};

struct ChainVerification {
  bool ok = true;
  std::uint64_t events_checked = 0;
  // The position (seq number) where the chain breaks: every event before it
  // verifies. Not taken from the bad event, whose seq may be forged.
  std::optional<std::uint64_t> first_bad_seq;
  std::string problem;  // what is wrong, for people
};

// Verifies events in seq order. `start` is the head just before the first
// event (nullopt when the span starts at seq 1); `expected_head`, when
// given, must equal the last event.
ChainVerification verify_chain(std::span<const AuditEvent> events, const std::optional<ChainHead>& start = std::nullopt,
                               const std::optional<ChainHead>& expected_head = std::nullopt);

}  // namespace hoist
