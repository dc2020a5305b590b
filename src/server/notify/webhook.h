// The generic webhook channel: each event POSTed as JSON (message.h) to an
// HTTPS URL, signed as the Standard Webhooks specification says
// (core/webhook_signature.h): headers webhook-id (the event id, the same on
// every attempt), webhook-timestamp (Unix seconds of the attempt) and
// webhook-signature ("v1,<base64>"; two, space-separated, while a rotated
// secret is still valid). docs/notifications.md has a receiver's check.
//
// MUST: only https URLs; the receiver's certificate verifies against the
// channel's CA file, or else the system's CAs, for the URL's host.
// Redirects are not followed.
// MUST: every attempt is bounded: the channel's timeout for the connect,
// the handshake and the whole exchange, and at most max_response_bytes of
// answer (a larger one is a failed attempt).
// MUST: secrets never leave this file but as signatures: not in errors,
// not in logs, not in the config JSON.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/audit.h"
#include "core/result.h"
#include "server/notify/kinds.h"
#include "server/notify/sender.h"

namespace hoist::notify {

inline constexpr std::string_view kWebhookKind = "webhook";
inline constexpr std::size_t kMaxUrlBytes = 2048;
inline constexpr std::chrono::seconds kMinWebhookTimeout{1};
inline constexpr std::chrono::seconds kMaxWebhookTimeout{60};

// A channel's config (stored as JSON, without secrets).
struct WebhookConfig {
  std::string url;
  std::optional<std::string> ca_file;  // PEM; nullopt: the system's CAs
  std::chrono::seconds timeout{10};
};

// {"url": ..., "ca_file": ... (when set), "timeout_s": ...}.
std::string webhook_config_json(const WebhookConfig& config);
// The stored JSON read back strictly: an object with exactly those
// fields, each checked as check_webhook_url and the bounds say.
// InvalidArgument naming the field otherwise.
Result<WebhookConfig> parse_webhook_config(std::string_view json);

// A webhook URL split for the client: "https://host[:port]" and the
// request target ("/path?query", "/" when empty).
struct WebhookUrl {
  std::string origin;
  std::string target;
};
// InvalidArgument, saying why, unless `url` is https://HOST[:PORT][/PATH][?QUERY]
// with a DNS name or an IP address, no user or password, no fragment,
// printable ASCII, at most kMaxUrlBytes.
Result<WebhookUrl> check_webhook_url(std::string_view url);

// The signing secrets (sealed in the store): the current one, and the one
// it replaced while that is still valid.
using WebhookSecrets = ChannelSecrets;
std::string webhook_secrets_json(const WebhookSecrets& secrets);
// InvalidArgument (never repeating a secret) for anything but what
// webhook_secrets_json writes, with secrets parse_secret accepts.
Result<WebhookSecrets> parse_webhook_secrets(std::string_view json);

// A receiver's answer as a short note for last_error: "HTTP 400", then
// the first 200 bytes of its body with anything unprintable as a space.
std::string answer_note(int status, std::string_view body);

struct WebhookOptions {
  std::size_t max_response_bytes = std::size_t{64} << 10;
};

// The sender of one webhook channel (its client keeps one connection
// alive between attempts). InvalidArgument for a config or secrets that
// do not read, or a ca_file that cannot be used (ca_file.h: one message,
// whatever the reason).
Result<std::unique_ptr<Sender>> make_webhook_sender(const store::ChannelRecord& channel, const std::string& secrets,
                                                    const WebhookOptions& options = {});

}  // namespace hoist::notify
