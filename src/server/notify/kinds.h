// The channel kinds hoistd knows (docs/notifications.md): for each, how
// its config is checked, and what its secret is. The API checks a channel
// with these before storing it; hoistd's outbox makes each channel's
// sender with make_sender (senders.h). No I/O here: the fuzz build links
// this alone.
//
// A channel's config is a JSON object without secrets, stored as the
// kind's canonical text. A change names only the fields it sets (null
// clears an optional one); the result is checked as a whole.
// MUST: nothing here repeats a secret in an error.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/audit.h"
#include "core/result.h"

namespace hoist::notify {

struct ChannelKind {
  std::string_view name;
  // For messages: what the admin gives as `secret` ("a whsec_ signing
  // secret", "the incoming webhook URL", ...).
  std::string_view secret_is;
  // Whether a channel with this (canonical) config needs a secret: always
  // for a webhook, only with a username for email.
  bool (*secret_required)(std::string_view config) = nullptr;
  // Whether a replaced secret stays valid for a while (a webhook receiver
  // checks either signature during a rotation).
  bool secret_rotates = false;
  // The config fields that say where the secret goes or whom it trusts
  // there, space-separated ("smtp_url username ca_file"): a change to any
  // of them must give the secret again, so an admin who may change a
  // channel but does not know its secret cannot send it to a host of
  // theirs. "" when the secret itself is the destination (a Slack or
  // Teams webhook URL) or never leaves hoistd (a webhook's signing key).
  std::string_view destination_fields;
  // The canonical config JSON text of `json` (an object), or
  // InvalidArgument naming the field.
  Result<std::string> (*check_config)(std::string_view json) = nullptr;
  // Whether `secret` (as typed) suits a channel with this (canonical)
  // config; InvalidArgument never repeating the secret.
  Status (*check_secret)(std::string_view config, std::string_view secret) = nullptr;
};

// Every kind, in the order docs and errors list them.
std::span<const ChannelKind> channel_kinds();
// nullptr for a kind hoistd does not know.
const ChannelKind* find_channel_kind(std::string_view name);
// "webhook, slack, ..." for messages.
std::string channel_kind_names();

// The names of the destination fields (see ChannelKind) whose values
// differ between two canonical configs of `kind`; empty when none.
std::vector<std::string> moved_destination(const ChannelKind& kind, std::string_view before, std::string_view after);

// The config after `change` (a JSON object text: the fields to set, null
// to clear one) over `stored` (canonical JSON text; "" or "{}" for a new
// channel), checked by the kind: its canonical text. InvalidArgument when
// `change` is not an object or the result does not suit the kind.
Result<std::string> merge_channel_config(const ChannelKind& kind, std::string_view stored, std::string_view change);

// The config (canonical JSON text) as audit events record it: auditors
// and every SIEM and channel that takes notify.* read it, and some
// services take a token in a URL's query or user part. Every string that
// reads as a URL ("scheme://...", in any field: webhook url, email
// smtp_url, slack api_url, and any a later kind adds) keeps its scheme,
// host and port (where messages go); a user or password becomes
// "[redacted]@", a path other than "/" "/[redacted]" (some receivers take
// their token there), a query "?[redacted]", a fragment "#[redacted]".
// A string with "://" that does not parse as a URL is replaced whole. A
// field named "username" (email's SMTP user, which some services make the
// password itself) is "[redacted]". Everything else is kept as it is:
// email recipients ("to") are what auditors should see. Admins still see
// the whole config (GET /api/v1/notify/channels).
std::string audited_config(std::string_view config);
inline constexpr std::string_view kRedacted = "[redacted]";

// A channel's secrets as sealed in the store (the plain text inside the
// sealed box): the current secret, and the one it replaced while that is
// still valid (kinds with secret_rotates only).
struct ChannelSecrets {
  std::string current;
  std::optional<std::string> previous;
  std::optional<AuditTime> previous_until;
};
std::string channel_secrets_json(const ChannelSecrets& secrets);
// InvalidArgument (never repeating a secret) for anything but what
// channel_secrets_json writes, with secrets of at most kMaxSecretBytes.
Result<ChannelSecrets> parse_channel_secrets(std::string_view json);
inline constexpr std::size_t kMaxSecretBytes = 2048;

}  // namespace hoist::notify
