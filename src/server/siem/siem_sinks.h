// Where the audit trail is streamed to (docs/siem.md): a JSON-lines file, a
// syslog receiver over TCP with TLS (or plain TCP), and an HTTP event
// collector (Splunk HEC compatible). Each send() returns only once the
// receiver has the events, as far as its transport can tell: the file
// after fdatasync; syslog once the receiver's TCP has acknowledged every
// byte (the send queue is empty); HEC on a 2xx answer. The streamer
// (siem_stream.h) moves its cursor only then, so delivery is at least once.
//
// MUST: every wait is bounded (connect, handshake, write, drain, answer).
// MUST: TLS verifies the receiver against the configured CA and name.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/audit.h"
#include "core/result.h"
#include "server/siem/siem_format.h"

namespace hoist::siem {

class Sink {
 public:
  virtual ~Sink() = default;
  Sink() = default;
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;
  // Delivers `events` in order. An error leaves nothing assumed delivered
  // (the caller sends them again; receivers drop duplicates by id).
  virtual Status send(std::span<const AuditEvent> events) = 0;
};

// ECS JSON, one event per line, appended; reopened when the file at `path`
// is no longer the one open (rotated), created 0640.
std::unique_ptr<Sink> make_file_sink(std::string path);

struct SyslogTarget {
  std::string host;  // name or IP address
  std::uint16_t port = 6514;
  bool tls = true;
  std::string ca_file;      // PEM; required with tls
  std::string server_name;  // checked in the receiver's certificate; "" = host
  std::chrono::milliseconds timeout{10'000};
  SyslogOptions format;
};
// RFC 5424 messages, octet-counted, over one kept connection.
Result<std::unique_ptr<Sink>> make_syslog_sink(SyslogTarget target);

struct HecTarget {
  std::string url;  // https://HOST[:PORT]
  std::string path = "/services/collector/event";
  std::string ca_file;
  std::string token;  // sent as "Authorization: Splunk TOKEN"; never logged
  std::string source_type = "hoist:audit";
  std::chrono::seconds timeout{10};
};
// One POST per batch: a HEC event object per audit event, the ECS JSON as
// its "event".
Result<std::unique_ptr<Sink>> make_hec_sink(HecTarget target);

}  // namespace hoist::siem
