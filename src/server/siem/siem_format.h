// Audit events as a SIEM reads them (docs/siem.md): JSON with Elastic
// Common Schema field names, and RFC 5424 syslog messages with structured
// data, framed by octet counting for TCP and TLS (RFC 6587, RFC 5425).
// Pure: no I/O.
//
// MUST: every event carries its audit sequence number and id (its chain
// hash), so a receiver can drop duplicates (delivery is at least once) and
// see a gap. MUST: nothing a user typed can break the framing: JSON is
// escaped by the serializer; syslog header fields are reduced to printable
// ASCII; structured-data values escape '"', '\' and ']'.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/audit.h"

namespace hoist::siem {

// ECS event.outcome: "failure" for refusals and denials, "unknown" for a
// decision that asks for approval, "success" otherwise.
std::string_view outcome_of(const AuditEvent& e);

// One JSON object (no newline) with ECS names: @timestamp, message,
// event.{action,outcome,id,sequence,kind,category,dataset,provider},
// user.name, user.target.name, host.name, process.{executable,
// command_line,args,hash.sha256,pid}, and hoist.{actor,target,details,
// prev_hash}.
std::string to_ecs_json(const AuditEvent& e);

struct SyslogOptions {
  // The HOSTNAME when the event names none (hoistd's own events).
  std::string hostname = "-";
  std::string app_name = "hoistd";
  // The SD-ID of Hoist's structured data: NAME@PEN (RFC 5424 7.2.2). The
  // default uses 32473, the number RFC 5612 sets aside for examples; an
  // operator with their own enterprise number sets it.
  std::string sd_id = "hoist@32473";
  int facility = 10;  // authpriv
};

// One RFC 5424 message: <PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID
// [meta sequenceId][SD_ID seq id action actor target outcome] MSG, MSG
// being to_ecs_json(e). Severity notice, warning for a failure.
std::string to_rfc5424(const AuditEvent& e, const SyslogOptions& options);

// "LEN SP MSG": octet-counting framing (RFC 6587 3.4.1, RFC 5425 4.3).
std::string octet_framed(std::string_view message);

}  // namespace hoist::siem
