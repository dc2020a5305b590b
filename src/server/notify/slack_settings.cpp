// The Slack channel's settings and secret, the message reference it keeps
// and the Web API's answers (slack.h). No client here: the fuzz build
// links this file alone.
#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <array>

#include "server/notify/settings_fields.h"
#include "server/notify/slack.h"
#include "server/notify/webhook.h"

namespace hoist::notify {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxChannelIdBytes = 32;
constexpr std::size_t kMaxTsBytes = 32;
constexpr std::size_t kMaxErrorBytes = 100;

bool upper_alnum(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); });
}

// "C0123ABC": a public (C) or private (G) channel, or a direct message (D).
bool is_channel_id(std::string_view s) {
  return s.size() >= 2 && s.size() <= kMaxChannelIdBytes && (s[0] == 'C' || s[0] == 'G' || s[0] == 'D') &&
         upper_alnum(s);
}

// "1712345678.000100"
bool is_ts(std::string_view s) {
  const auto dot = s.find('.');
  const auto digits = [](std::string_view d) {
    return !d.empty() && std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  return s.size() <= kMaxTsBytes && dot != std::string_view::npos && digits(s.substr(0, dot)) &&
         digits(s.substr(dot + 1));
}

std::string_view mode_name(SlackMode mode) {
  return mode == SlackMode::kBot ? "bot" : "webhook";
}

}  // namespace

std::string slack_config_json(const SlackConfig& c) {
  json::object o{{"mode", mode_name(c.mode)}};
  if (c.mode == SlackMode::kBot) {
    o["channel"] = c.channel;
    o["api_url"] = c.api_url.empty() ? std::string(kSlackDefaultApiUrl) : c.api_url;
  }
  if (c.ca_file) o["ca_file"] = *c.ca_file;
  o["timeout_s"] = c.timeout.count();
  return json::serialize(o);
}

Result<SlackConfig> parse_slack_config(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return invalid_argument("a slack channel's config must be a JSON object");
  SlackConfig c;
  std::optional<std::string> mode;
  std::optional<std::string> channel;
  std::optional<std::string> api_url;
  for (const auto& [key, value] : v.as_object()) {
    if (key == "mode") {
      if (!value.is_string()) return invalid_argument("mode must be \"webhook\" or \"bot\"");
      mode = std::string(value.as_string());
    } else if (key == "channel") {
      if (!value.is_string() || !is_channel_id(value.as_string())) {
        return invalid_argument(
            "channel must be a Slack channel ID such as C0123ABC (in Slack: the channel's details, at the bottom), "
            "not a #name");
      }
      channel = std::string(value.as_string());
    } else if (key == "api_url") {
      if (!value.is_string()) return invalid_argument("api_url must be a string");
      api_url = std::string(value.as_string());
    } else if (key == "ca_file") {
      if (auto st = read_ca_file(value, c.ca_file); !st) return st.error();
    } else if (key == "timeout_s") {
      if (auto st = read_timeout(value, c.timeout); !st) return st.error();
    } else {
      return invalid_argument(
          fmt::format("a slack channel has no setting \"{}\" (it has mode, channel, api_url, ca_file, timeout_s)",
                      std::string_view(key).substr(0, 64)));
    }
  }
  if (!mode) {
    return invalid_argument(
        "a slack channel needs mode: \"webhook\" (the secret is an incoming webhook URL) or \"bot\" (the secret is a "
        "bot token, and channel says where it posts)");
  }
  if (*mode == "webhook") {
    c.mode = SlackMode::kWebhook;
    if (channel) {
      return invalid_argument(
          "channel is for mode bot: an incoming webhook posts to the channel it was made for (set channel to null)");
    }
    if (api_url) return invalid_argument("api_url is for mode bot (set it to null)");
    return c;
  }
  if (*mode != "bot") return invalid_argument("mode must be \"webhook\" or \"bot\"");
  c.mode = SlackMode::kBot;
  if (!channel) return invalid_argument("a slack channel in mode bot needs channel: the channel ID to post to");
  c.channel = std::move(*channel);
  c.api_url = api_url.value_or(std::string(kSlackDefaultApiUrl));
  auto url = check_webhook_url(c.api_url);
  if (!url) return invalid_argument(fmt::format("api_url: {}", url.error().message));
  if (url->target.find('?') != std::string::npos) return invalid_argument("api_url must not have a query (?...)");
  return c;
}

Status check_slack_secret(const SlackConfig& config, std::string_view secret) {
  if (config.mode == SlackMode::kWebhook) {
    if (secret.starts_with("xox")) {
      return invalid_argument(
          "mode webhook takes the incoming webhook URL, not a token (for a bot token, set mode bot and channel)");
    }
    if (auto url = check_webhook_url(secret); !url) return url.error();
    return {};
  }
  if (secret.starts_with("https://") || secret.starts_with("http://")) {
    return invalid_argument("mode bot takes the bot token (xoxb-...), not a URL (for a webhook URL, set mode webhook)");
  }
  if (secret.starts_with("xoxp-") || secret.starts_with("xoxa-") || secret.starts_with("xoxe")) {
    return invalid_argument("that is not a bot token: give the app's bot token, which starts with xoxb-");
  }
  const bool shape = secret.starts_with("xoxb-") && secret.size() > 5 && secret.size() <= kMaxSlackTokenBytes &&
                     std::all_of(secret.begin(), secret.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
                     });
  if (!shape) {
    return invalid_argument(fmt::format(
        "a bot token is xoxb- then letters, digits and '-', at most {} characters (Slack: the app's OAuth & "
        "Permissions page)",
        kMaxSlackTokenBytes));
  }
  return {};
}

std::string slack_ref_json(const SlackMessageRef& ref) {
  return json::serialize(json::object{{"channel", ref.channel}, {"ts", ref.ts}});
}

std::optional<SlackMessageRef> parse_slack_ref(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object() || v.as_object().size() != 2) return std::nullopt;
  const auto* channel = v.as_object().if_contains("channel");
  const auto* ts = v.as_object().if_contains("ts");
  if (channel == nullptr || ts == nullptr || !channel->is_string() || !ts->is_string() ||
      !is_channel_id(channel->as_string()) || !is_ts(ts->as_string())) {
    return std::nullopt;
  }
  return SlackMessageRef{std::string(channel->as_string()), std::string(ts->as_string())};
}

Result<SlackAnswer> parse_slack_answer(std::string_view body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return invalid_argument("the answer is not the Slack Web API's JSON object");
  const auto& o = v.as_object();
  const auto* ok = o.if_contains("ok");
  if (ok == nullptr || !ok->is_bool()) return invalid_argument("the answer has no \"ok\": not the Slack Web API");
  SlackAnswer a;
  a.ok = ok->as_bool();
  const auto text = [&](std::string_view key) -> std::string_view {
    const auto* f = o.if_contains(key);
    return f != nullptr && f->is_string() ? std::string_view(f->as_string()) : std::string_view();
  };
  if (is_channel_id(text("channel"))) a.channel = std::string(text("channel"));
  if (is_ts(text("ts"))) a.ts = std::string(text("ts"));
  for (const char c : text("error").substr(0, kMaxErrorBytes)) a.error += (c > ' ' && c < 0x7f) ? c : '?';
  if (!a.ok && a.error.empty()) a.error = "unknown_error";
  return a;
}

bool slack_error_is_permanent(std::string_view error) {
  // Slack's documented errors that the next attempt would get again.
  static constexpr std::array<std::string_view, 32> kPermanent = {
      "access_denied",          "account_inactive",
      "cant_update_message",    "channel_not_found",
      "deprecated_endpoint",    "edit_window_closed",
      "ekm_access_denied",      "enterprise_is_restricted",
      "invalid_arg_name",       "invalid_arguments",
      "invalid_auth",           "invalid_blocks",
      "invalid_blocks_format",  "invalid_charset",
      "invalid_form_data",      "invalid_json",
      "invalid_post_type",      "is_archived",
      "json_not_object",        "message_not_found",
      "method_deprecated",      "missing_post_type",
      "missing_scope",          "msg_too_long",
      "no_permission",          "no_text",
      "not_allowed_token_type", "not_authed",
      "not_in_channel",         "restricted_action",
      "token_expired",          "token_revoked",
  };
  return std::find(kPermanent.begin(), kPermanent.end(), error) != kPermanent.end();
}

bool slack_message_is_gone(std::string_view error) {
  return error == "message_not_found" || error == "cant_update_message" || error == "edit_window_closed";
}

}  // namespace hoist::notify
