// The Microsoft Teams channel: each event as an Adaptive Card (summary.h: a
// title, the facts in a FactSet, a context line, an "Open in Hoist"
// action) POSTed to a Teams Workflows webhook URL (the secret; Workflows
// answers 202). Each event is a card of its own. docs/notifications.md
// shows the card.
//
// MUST: every text in the card is escaped (teams_escape): Teams renders
// Markdown in TextBlock and in a Fact's title and value, resolves <at>
// mentions, and a templating host evaluates ${...} (and a renderer
// {{DATE(...)}}); after escaping, typed text shows as typed, on renderers
// that honour CommonMark's backslash escapes, and with its backslashes on
// those that do not, but never as a link, emphasis, a list, a mention or
// an expression.
// MUST: only https, verified against ca_file or the system's CAs; no
// redirects; every attempt bounded by timeout_s.
// MUST: the URL (its signature is the secret) never leaves this file but
// in the request: not in errors, logs, the config or a message.
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

inline constexpr std::string_view kTeamsKind = "teams";

// A channel's config (stored as JSON, without secrets).
struct TeamsConfig {
  std::optional<std::string> ca_file;
  std::chrono::seconds timeout{10};
};

// {"ca_file": ... (when set), "timeout_s": ...}.
std::string teams_config_json(const TeamsConfig& config);
// The JSON read back strictly: InvalidArgument naming the field.
Result<TeamsConfig> parse_teams_config(std::string_view json);
// Whether `secret` is a usable Workflows URL (check_webhook_url).
// InvalidArgument never repeating it.
Status check_teams_secret(std::string_view secret);

// The message for `summary`: {"type": "message", "attachments": [one
// Adaptive Card 1.4]}.
boost::json::object teams_message(const Summary& summary);
// `text` for an Adaptive Card's Markdown: a backslash before every
// character that Markdown, mentions, entities or templating give a meaning
// (\ ` * _ ~ [ ] ( ) { } < > # & |), and before what would start a list or
// a quote at the start ("- ", "+ ", "1. ", "> ").
std::string teams_escape(std::string_view text);

struct TeamsOptions {
  std::size_t max_response_bytes = std::size_t{64} << 10;
};

// The sender of one Teams channel. InvalidArgument for a config or secrets
// that do not read, or a ca_file that cannot be used (ca_file.h: one
// message, whatever the reason).
Result<std::unique_ptr<Sender>> make_teams_sender(const store::ChannelRecord& channel, const std::string& secrets,
                                                  const TeamsOptions& options = {});

}  // namespace hoist::notify
