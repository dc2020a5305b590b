// What an email says (email.h sends it): one notification (message.h) as
// the header fields, the text part and the HTML part of a
// multipart/alternative mail, for the channel's `to` list or for the
// requester. Pure: no I/O, no clock; the fuzz build links it.
//
// For a request, the mail names the user, the host, the command and its
// arguments, its SHA-256 and package, the justification, the duration
// asked for, the rule, until when an answer is awaited, the outcome (for
// the events after request.created) and the console's link. Every mail of
// one request carries In-Reply-To and References <req-ID@hoist>, so mail
// clients thread them; its Message-ID is the event's id (the same on
// every attempt).
//
// MUST: a header field holds only printable ASCII: text from a request or
// an event (a user's, an agent's) is first made visible
// (core/display_text.h: no CR, LF or other control passes), cut on a
// character boundary, then written as RFC 2047 encoded-words (UTF-8,
// base64) unless it is plain ASCII that cannot be read as one; lines are
// folded near 78 and never reach 998.
// MUST: in the HTML part every piece of such text is escaped (& < > " ').
// MUST: the parts' lines end in CRLF; the sender gives both parts a
// quoted-printable encoding, so no line on the wire passes 76 characters,
// and libcurl dot-stuffs a line that starts with ".".
// MUST: only what the message holds: never a secret.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/audit.h"
#include "server/notify/message.h"

namespace hoist::notify {

enum class MailAudience : std::uint8_t {
  kChannel,    // the channel's `to` list: "alice's request was approved by bob"
  kRequester,  // the requester: "Your request was approved by bob"
};

struct Mail {
  std::string message_id;               // "<evt_42_9f2c...@hoist>"; "<evt_42_9f2c....requester@hoist>"
  std::string thread_id;                // "<req-...@hoist>"; "" when the event is not about a request
  std::string subject;                  // as shown (UTF-8), before the encoding
  std::vector<std::string> recipients;  // the envelope's (RCPT TO): checked addresses, as given
  std::vector<std::string> headers;     // whole fields "Name: value", folded with CRLF + space
  std::string text;                     // text/plain, UTF-8, CRLF line ends
  std::string html;                     // text/html, UTF-8, CRLF line ends
};

// The mail of `message` from `from` to `to` (addresses check_email_address
// accepted) for `audience`. The headers: Date (the event's time), From,
// To, Subject, Message-ID, In-Reply-To and References (for a request),
// Auto-Submitted, X-Hoist-Event; the sender adds the MIME ones.
Mail compose_mail(const Message& message, std::string_view from, const std::vector<std::string>& to,
                  MailAudience audience);

// "Name: value" for `value` (UTF-8 without controls, at most a few hundred
// bytes): as it is when it is printable ASCII without "=?", else as
// encoded-words of whole characters; folded before a space (or between
// encoded-words) near 78 characters.
std::string header_field(std::string_view name, std::string_view value);

// `text` with & < > " ' as character references.
std::string html_escape(std::string_view text);

// Text a person or an agent wrote, to show: controls, hidden characters
// and invalid UTF-8 made visible (visible_text), then at most `max_bytes`
// cut on a character boundary, ending in "…" when cut.
std::string shown_text(std::string_view text, std::size_t max_bytes);

// An RFC 5322 date: "Tue, 24 Nov 2026 10:00:00 +0000".
std::string mail_date(AuditTime t);

}  // namespace hoist::notify
