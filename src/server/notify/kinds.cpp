// The channel kinds' table (kinds.h). A new kind adds its row here, its
// settings next to its sender, and its sender to senders.cpp.
#include "server/notify/kinds.h"

#include <fmt/format.h>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <array>

#include "core/webhook_signature.h"
#include "server/notify/email.h"
#include "server/notify/slack.h"
#include "server/notify/teams.h"
#include "server/notify/webhook.h"

namespace hoist::notify {

namespace json = boost::json;

namespace {

Result<std::string> webhook_config(std::string_view text) {
  auto c = parse_webhook_config(text);
  if (!c) return c.error();
  return webhook_config_json(*c);
}

bool always(std::string_view /*config*/) {
  return true;
}

Status webhook_secret(std::string_view /*config*/, std::string_view secret) {
  if (auto key = webhook::parse_secret(secret); !key) return key.error();
  return {};
}

Result<std::string> email_config(std::string_view text) {
  auto c = parse_email_config(text);
  if (!c) return c.error();
  return email_config_json(*c);
}

Result<std::string> slack_config(std::string_view text) {
  auto c = parse_slack_config(text);
  if (!c) return c.error();
  return slack_config_json(*c);
}

Status slack_secret(std::string_view config, std::string_view secret) {
  auto c = parse_slack_config(config);
  if (!c) return c.error();
  return check_slack_secret(*c, secret);
}

Result<std::string> teams_config(std::string_view text) {
  auto c = parse_teams_config(text);
  if (!c) return c.error();
  return teams_config_json(*c);
}

Status teams_secret(std::string_view /*config*/, std::string_view secret) {
  return check_teams_secret(secret);
}

constexpr std::array kKinds{
    ChannelKind{.name = kWebhookKind,
                .secret_is = "a whsec_ signing secret (hoist notify channels add --generate-secret makes one)",
                .secret_required = always,
                .secret_rotates = true,
                .destination_fields = "",
                .check_config = webhook_config,
                .check_secret = webhook_secret},
    ChannelKind{.name = kSlackKind,
                .secret_is = "the incoming webhook URL (mode webhook) or the app's bot token xoxb-... (mode bot)",
                .secret_required = always,
                .secret_rotates = false,
                .destination_fields = "mode api_url ca_file",
                .check_config = slack_config,
                .check_secret = slack_secret},
    ChannelKind{.name = kTeamsKind,
                .secret_is = "the Workflows webhook URL (https://...) of a Teams workflow",
                .secret_required = always,
                .secret_rotates = false,
                .destination_fields = "",
                .check_config = teams_config,
                .check_secret = teams_secret},
    ChannelKind{.name = kEmailKind,
                .secret_is = "the SMTP password of config.username (needed when a username is set)",
                .secret_required = email_needs_password,
                .secret_rotates = false,
                .destination_fields = "smtp_url username ca_file",
                .check_config = email_config,
                .check_secret = check_smtp_password},
};

}  // namespace

std::span<const ChannelKind> channel_kinds() {
  return kKinds;
}

const ChannelKind* find_channel_kind(std::string_view name) {
  for (const auto& k : kKinds) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::string channel_kind_names() {
  std::string out;
  for (const auto& k : kKinds) {
    if (!out.empty()) out += ", ";
    out += k.name;
  }
  return out;
}

std::vector<std::string> moved_destination(const ChannelKind& kind, std::string_view before, std::string_view after) {
  boost::system::error_code ec;
  auto a = json::parse(before, ec);
  if (ec || !a.is_object()) a = json::object{};
  auto b = json::parse(after, ec);
  if (ec || !b.is_object()) b = json::object{};
  std::vector<std::string> moved;
  std::string_view rest = kind.destination_fields;
  while (!rest.empty()) {
    const auto space = rest.find(' ');
    const auto field = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
    if (field.empty()) continue;
    const auto* x = a.as_object().if_contains(field);
    const auto* y = b.as_object().if_contains(field);
    if ((x == nullptr) != (y == nullptr) || (x != nullptr && *x != *y)) moved.emplace_back(field);
  }
  return moved;
}

Result<std::string> merge_channel_config(const ChannelKind& kind, std::string_view stored, std::string_view change) {
  boost::system::error_code ec;
  json::object merged;
  if (!stored.empty()) {
    auto base = json::parse(stored, ec);
    if (ec || !base.is_object()) return invalid_argument("the channel's stored config does not read (this is a bug)");
    merged = std::move(base.as_object());
  }
  auto delta = json::parse(change, ec);
  if (ec || !delta.is_object()) return invalid_argument("config must be a JSON object");
  for (const auto& [key, value] : delta.as_object()) {
    if (value.is_null()) {
      merged.erase(key);
    } else {
      merged[key] = value;
    }
  }
  return kind.check_config(json::serialize(merged));
}

namespace {

// Where a URL goes (scheme, host, port) and nothing a receiver could take
// as a token: the path (Zapier's and Pipedream's hooks carry it there),
// query, fragment and user part become [redacted]. A path of "/" or none
// is kept. (No digest of the whole URL: an unkeyed one lets an auditor try
// short tokens until one fits.)
std::string audited_url(std::string_view text) {
  if (text.find("://") == std::string_view::npos) return std::string(text);
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return fmt::format("{} (a URL that does not read)", kRedacted);
  const auto& u = *parsed;
  std::string out = std::string(u.scheme()) + "://";
  if (u.has_userinfo()) {
    out += fmt::format("{}@", kRedacted);
  }
  out += u.encoded_host_and_port();
  const auto path = u.encoded_path();
  if (path.empty() || path == "/") {
    out += path;
  } else {
    out += fmt::format("/{}", kRedacted);
  }
  if (u.has_query()) {
    out += fmt::format("?{}", kRedacted);
  }
  if (u.has_fragment()) {
    out += fmt::format("#{}", kRedacted);
  }
  return out;
}

void redact_urls(json::value& v) {
  if (v.is_string()) {
    v = audited_url(v.as_string());
  } else if (v.is_array()) {
    for (auto& item : v.as_array()) redact_urls(item);
  } else if (v.is_object()) {
    for (auto& [key, item] : v.as_object()) {
      // An SMTP user name can be the password itself (Postmark's server
      // token is both): never audited.
      if (key == "username" && !item.is_null()) {
        item = kRedacted;
      } else {
        redact_urls(item);
      }
    }
  }
}

}  // namespace

std::string audited_config(std::string_view config) {
  boost::system::error_code ec;
  auto v = json::parse(config, ec);
  // hoistd's own canonical JSON always reads; anything else is not shown.
  if (ec || !v.is_object()) return json::serialize(json::object{{"unreadable", kRedacted}});
  redact_urls(v);
  return json::serialize(v);
}

std::string channel_secrets_json(const ChannelSecrets& s) {
  json::object o{{"current", s.current}};
  if (s.previous) o["previous"] = *s.previous;
  if (s.previous_until) o["previous_until_ms"] = s.previous_until->time_since_epoch().count();
  return json::serialize(o);
}

Result<ChannelSecrets> parse_channel_secrets(std::string_view text) {
  const auto bad = [] { return invalid_argument("a channel's stored secrets do not read (this is a bug)"); };
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return bad();
  ChannelSecrets s;
  bool has_current = false;
  for (const auto& [key, value] : v.as_object()) {
    if (key == "current" && value.is_string() && value.as_string().size() <= kMaxSecretBytes) {
      s.current = std::string(value.as_string());
      has_current = true;
    } else if (key == "previous" && value.is_string() && value.as_string().size() <= kMaxSecretBytes) {
      s.previous = std::string(value.as_string());
    } else if (key == "previous_until_ms" && value.is_int64()) {
      s.previous_until = AuditTime{std::chrono::milliseconds{value.as_int64()}};
    } else {
      return bad();
    }
  }
  if (!has_current) return bad();
  return s;
}

}  // namespace hoist::notify
