// The email channel: each event mailed over SMTP by libcurl (never a
// hand-written SMTP client) as a multipart/alternative message, a text and
// an HTML part (email_message.h says what they hold), to the channel's `to`
// list; with a requester_template, the requester of a request is also
// mailed the outcome of their request (tells_requester). The password, if
// any, is the channel's secret. docs/notifications.md has the settings.
//
// MUST: TLS always. smtp:// only after STARTTLS (CURLUSESSL_ALL: a server
// that does not offer it gets nothing, the password least of all);
// smtps:// is TLS from the first byte. The server's certificate verifies
// against the channel's CA file (only it), else the system's CAs, for the
// URL's host. Only the smtp and smtps protocols; nothing is followed.
// MUST: every attempt is bounded: the channel's timeout for the connect
// and for the whole exchange, and interrupt() ends one at once.
// MUST: addresses are checked strictly (check_email_address) before they
// reach a header or an SMTP command; a requester whose name does not make
// one under the template is not mailed.
// MUST: the password goes to libcurl and nowhere else: not in errors, not
// in a mail, not in the config JSON.
//
// What an attempt's outcome means to the outbox (core/outbox.h's decide()
// reads `status` as an HTTP status; these are the values of the same
// meaning):
//   every mail accepted (250 after DATA)              200  delivered
//   nobody to mail for this event (see send_email)    204  delivered
//   the server refused with 4xx (try later)           503  retried on the schedule
//   the server refused with 5xx (never), a wrong
//   password (535) included; a test message or a
//   requester mail with no valid address               400  dead at once
//   no SMTP answer: connect, TLS, a certificate that
//   does not verify, no STARTTLS, the timeout          none retried on the schedule
// The error says which, with the server's reply code and text.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "server/notify/sender.h"

namespace hoist::notify {

inline constexpr std::string_view kEmailKind = "email";
inline constexpr std::size_t kMaxEmailRecipients = 50;
inline constexpr std::size_t kMaxEmailAddressBytes = 254;
inline constexpr std::size_t kMaxSmtpUrlBytes = 512;
inline constexpr std::size_t kMaxSmtpUsernameBytes = 256;
inline constexpr std::size_t kMaxSmtpPasswordBytes = 1024;
inline constexpr std::chrono::seconds kMinEmailTimeout{1};
inline constexpr std::chrono::seconds kMaxEmailTimeout{60};

// The outcome statuses above.
inline constexpr int kEmailDelivered = 200;
inline constexpr int kEmailNobodyToMail = 204;
inline constexpr int kEmailRefusedForNow = 503;
inline constexpr int kEmailRefused = 400;

// A channel's config (stored as JSON, without the password).
struct EmailConfig {
  std::string smtp_url;                           // smtp://HOST[:PORT] or smtps://HOST[:PORT]
  std::string from;                               // one address
  std::vector<std::string> to;                    // may be empty only with a requester_template
  std::optional<std::string> username;            // AUTH with the secret as the password
  std::optional<std::string> ca_file;             // PEM; nullopt: the system's CAs
  std::chrono::seconds timeout{10};               // connect, and the whole exchange
  std::optional<std::string> requester_template;  // "{user}@example.com"
};

// {"smtp_url", "from", "to", "username" (when set), "ca_file" (when set),
// "timeout_s", "requester_template" (when set)}.
std::string email_config_json(const EmailConfig& config);
// The JSON read back strictly: an object with only those fields, each
// checked (check_smtp_url, check_email_address, check_requester_template,
// the bounds); a missing "to" is empty. InvalidArgument naming the field
// otherwise.
Result<EmailConfig> parse_email_config(std::string_view json);

// Where the mail goes: what libcurl is given.
struct SmtpServer {
  bool implicit_tls = false;  // smtps://
  std::string origin;         // "smtp://host:port", the port always written (25, 465 by default)
};
// InvalidArgument, saying why, unless `url` is smtp://HOST[:PORT] or
// smtps://HOST[:PORT] (a DNS name or an IP address; nothing else: no user,
// password, path, query or fragment), printable ASCII, at most
// kMaxSmtpUrlBytes.
Result<SmtpServer> check_smtp_url(std::string_view url);

// InvalidArgument, saying why, unless `address` is LOCAL@DOMAIN: at most
// kMaxEmailAddressBytes of printable ASCII, LOCAL a dot-atom (RFC 5322: no
// quotes, spaces, angle brackets, commas, ...) of at most 64, DOMAIN DNS
// labels (letters, digits, '-') joined by dots.
Status check_email_address(std::string_view address);

// InvalidArgument unless `text` holds "{user}" once, no other brace, and
// makes an address with a name in it; "{user}" alone (names that are
// addresses already) is allowed too.
Status check_requester_template(std::string_view text);
// The address `user` makes under `template_text`. InvalidArgument, saying
// why, when the name is empty, longer than 64, or has anything but ASCII
// letters, digits, '.', '_', '-' and '@' (no '%', '!', '+': no mail
// routing through a name), or the result is not an address.
Result<std::string> requester_address(std::string_view template_text, std::string_view user);
// Whether the requester hears of an event of `action`: the outcomes of a
// request (request.approved, request.denied, request.expired,
// request.cancelled) and grant.revoked.
bool tells_requester(std::string_view action);

// Whether a channel with this (canonical) config needs a password: when it
// names a username. (A password without a username is kept, not used.)
bool email_needs_password(std::string_view config);
// InvalidArgument (never repeating it) unless `secret` is 1 to
// kMaxSmtpPasswordBytes without control characters.
Status check_smtp_password(std::string_view config, std::string_view secret);

// libcurl's process-wide set-up (curl_global_init), once: hoistd's main
// calls it before it starts a thread; make_email_sender calls it too (a
// std::call_once: a no-op after the first, and libcurl 7.84+ makes it
// thread-safe) for the tests and any other caller. Never cleaned up: it
// lives as long as the process. Unavailable when libcurl cannot start or
// lacks SMTP over TLS.
Status init_email_transport();

// The sender of one email channel, with its ca_file read now (ca_file.h).
// InvalidArgument for a config or secrets that do not read, a username
// without a password, or a ca_file that cannot be used (one message,
// whatever the reason).
Result<std::unique_ptr<Sender>> make_email_sender(const store::ChannelRecord& channel, const std::string& secrets);

}  // namespace hoist::notify
