// The one place where an event's details are bounded before hoistd sees
// them. hoistd refuses an event whose details are longer than 16 KiB
// (kMaxAgentEventDetails in src/server/api/api_impl.h) or not valid
// UTF-8; an event it refuses would stay at the head of the outbox, so any
// user who can make the agent queue one (a sudo with a long argv) could
// stop the endpoint's audit uploads. The agent applies this to every
// event it queues (Agent::enqueue, the break-glass spool) and again to
// every event it uploads (events queued by an older version).
//
// MUST: the result is the text of a JSON object (as boost::json::serialize
// writes it, which is how hoistd measures it) of at most
// kMaxEventDetailsBytes, with valid UTF-8 only, nested at most
// kMaxEventDepth deep, with no repeated key, and a "target" that is a
// string of at most kMaxEventTargetBytes when present.
// MUST: nothing is cut silently. A cut string ends with a marker giving its
// full length in bytes; a cut array or object ends with a marker giving
// how many items or fields it had; bytes that are not UTF-8 become U+FFFD.
// Whenever something was cut, the details say "truncated": true and
// "full_bytes" (the length of the text that came in), and when argv was
// cut, "argv_count", "argv_bytes" and "argv_sha256" describe the full argv
// (its arguments each followed by a NUL, as /proc/PID/cmdline holds them).
// MUST: bounding twice gives what bounding once gave (the upload applies
// it again to what the outbox holds).
// Pure: no I/O, no clock, never throws.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hoist::agent {

// A quarter below hoistd's 16 KiB, so a hoistd that measures a little
// differently (another JSON library's escaping) still takes every event.
inline constexpr std::size_t kMaxEventDetailsBytes = std::size_t{12} * 1024;
// hoistd takes an event's target of at most 256 bytes.
inline constexpr std::size_t kMaxEventTargetBytes = 256;
inline constexpr std::size_t kMaxEventDepth = 8;

// The bounded details for `payload` (normally a JSON object's text; any
// other text is kept as {"text": ...}, bounded like the rest).
std::string bound_event_details(std::string_view payload);

}  // namespace hoist::agent
