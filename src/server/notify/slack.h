// The Slack channel: each event as a Block Kit message (summary.h: a
// header, the facts in sections, a context line, a button to the console),
// posted one of two ways (config "mode"):
//   webhook  to an incoming webhook URL (the secret); each event is a new
//            message; Slack answers with HTTP statuses.
//   bot      with a bot token (the secret) to the Web API at api_url:
//            chat.postMessage for a request's first event on the channel,
//            then chat.update of that message (its channel and ts, kept by
//            the outbox: Message::thread_ref) for the request's later
//            events, so one message shows the request as it goes. The Web
//            API answers 200 with {"ok": false, "error": ...} when it
//            refuses: see slack_error_is_permanent.
// docs/notifications.md shows the message and the errors.
//
// MUST: text from the event or the request is only ever in plain_text
// objects, which Slack shows as typed; the one mrkdwn text (the message's
// top-level `text`, Slack's fallback for notifications) has &, < and >
// escaped as Slack documents (&amp; &lt; &gt;), so no typed text can
// mention (<!channel>, <@U123>), link or run anything. link_names is never
// set.
// MUST: every Block Kit limit holds (header 150, section text 3000, field
// 2000, at most 10 fields a section and 50 blocks, button text 75, url
// 3000), counted in UTF-16 units and cut on whole characters.
// MUST: only https (the webhook URL and api_url), verified against ca_file
// or the system's CAs; no redirects; every attempt bounded by timeout_s.
// MUST: the webhook URL and the token never leave this file but in the
// request to Slack: not in errors, logs, the config or a message.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "server/notify/sender.h"
#include "server/notify/summary.h"

namespace hoist::notify {

inline constexpr std::string_view kSlackKind = "slack";
inline constexpr std::string_view kSlackDefaultApiUrl = "https://slack.com/api";
inline constexpr std::size_t kMaxSlackTokenBytes = 255;

enum class SlackMode : std::uint8_t { kWebhook, kBot };

// A channel's config (stored as JSON, without secrets).
struct SlackConfig {
  SlackMode mode = SlackMode::kWebhook;
  std::string channel;  // bot: a channel ID ("C0123ABC"), not a #name
  std::string api_url;  // bot: the Web API's base, kSlackDefaultApiUrl unless set
  std::optional<std::string> ca_file;
  std::chrono::seconds timeout{10};
};

// {"mode": "webhook"|"bot", "channel" and "api_url" (bot), "ca_file" (when
// set), "timeout_s"}.
std::string slack_config_json(const SlackConfig& config);
// The JSON read back strictly: exactly those fields for the mode (channel
// required in bot mode, neither channel nor api_url in webhook mode),
// api_url as check_webhook_url says without a query. InvalidArgument
// naming the field otherwise.
Result<SlackConfig> parse_slack_config(std::string_view json);
// Whether `secret` suits the mode: webhook, an incoming webhook URL
// (check_webhook_url); bot, a bot token "xoxb-" then letters, digits and
// '-' (at most kMaxSlackTokenBytes). InvalidArgument never repeating it.
Status check_slack_secret(const SlackConfig& config, std::string_view secret);

// Where a bot posted a message: the reference the outbox keeps
// (AttemptOutcome::message_ref), as {"channel": ..., "ts": ...}.
struct SlackMessageRef {
  std::string channel;
  std::string ts;  // "1712345678.000100"
};
std::string slack_ref_json(const SlackMessageRef& ref);
// nullopt for anything but what slack_ref_json writes with a channel ID
// and a ts as Slack gives them.
std::optional<SlackMessageRef> parse_slack_ref(std::string_view json);

// A Web API answer: {"ok": true, "channel", "ts", ...} or {"ok": false,
// "error": ...}. InvalidArgument for a body that is not such an object.
// channel and ts are "" when absent or not as Slack gives them; error is
// cut to 100 printable ASCII characters.
struct SlackAnswer {
  bool ok = false;
  std::string error;
  std::string channel;
  std::string ts;
};
Result<SlackAnswer> parse_slack_answer(std::string_view body);
// Whether an ok:false error will be the same on every attempt (bad token,
// missing scope, unknown or archived channel, bot not in the channel, a
// message Slack refuses): the delivery is dead at once (reported as status
// 400). Others (internal_error, service_unavailable, ratelimited and any
// error Slack adds later) are tried again on the schedule (status 503).
bool slack_error_is_permanent(std::string_view error);
// Whether a chat.update error means the message is gone or cannot be
// edited: the sender posts a new one instead.
bool slack_message_is_gone(std::string_view error);

// The message for `summary`: {"text": the mrkdwn fallback, "blocks": [...]}.
boost::json::object slack_message(const Summary& summary);
// `text` with &, < and > as &amp;, &lt; and &gt;: for mrkdwn.
std::string slack_escape(std::string_view text);

struct SlackOptions {
  // Slack's chat.postMessage answer repeats the message: room for it.
  std::size_t max_response_bytes = std::size_t{1} << 20;
};

// The sender of one Slack channel (its client keeps one connection alive
// between attempts). InvalidArgument for a config or secrets that do not
// read or do not suit each other, or a ca_file that cannot be used
// (ca_file.h: one message, whatever the reason).
Result<std::unique_ptr<Sender>> make_slack_sender(const store::ChannelRecord& channel, const std::string& secrets,
                                                  const SlackOptions& options = {});

}  // namespace hoist::notify
