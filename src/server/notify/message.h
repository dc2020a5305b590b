// What a notification says, whatever the channel: one audit event, the
// request it concerns (when it concerns one), and where the console shows
// it. Each channel kind formats it its own way (webhook.h: JSON).
// Pure: no I/O, no clock.
//
// MUST: a message holds only what the audit trail and the request record
// hold; never a secret (those are not in either).
#pragma once

#include <optional>
#include <string>

#include "core/audit.h"
#include "store/requests.h"

namespace hoist::notify {

struct Message {
  std::string id;  // event_id(event): the idempotency key, the same on every attempt
  AuditEvent event;
  std::optional<store::RequestRecord> request;  // when the event is about one
  std::string link;                             // the console's page for it; "" without a public URL
  // The request the event is about ("" when none): a channel that edits one
  // message per request keys it by this. thread_ref is where this channel
  // posted about it before (the kind's own text, as a delivered attempt
  // returned it in AttemptOutcome::message_ref); nullopt when it has not.
  std::string subject = {};
  std::optional<std::string> thread_ref = std::nullopt;
};

// "evt_<seq>_<first 16 hex digits of the event's hash>": unique across
// databases (a fresh database starts at seq 1 again, with another hash),
// and its seq shows a receiver the order and any gap.
std::string event_id(const AuditEvent& event);

// The console's page for a request: <public_url>/#/requests/<id>; "" when
// there is no public URL.
std::string request_link(const std::string& public_url, const std::string& request_id);

// Whether an event's target is a request (request.* and grant.* events).
bool concerns_request(const AuditEvent& event);

// The event as JSON text, the shape of the Standard Webhooks examples:
//   {"type": <action>, "timestamp": <event time>, "data": {"id", "seq",
//    "kind", "time", "actor", "target", "host", "details", "request", "link"}}
// "request" (null when none): id, user, host, kind, command {path, argv,
// sha256, package, runas, runas_group}, justification, duration_s, rule,
// approval_mode, created_at, pending_deadline. Text that is not UTF-8
// becomes U+FFFD.
std::string json_body(const Message& message);

// An audit time as "2026-11-24T10:00:00.123Z".
std::string format_event_time(AuditTime t);

}  // namespace hoist::notify
