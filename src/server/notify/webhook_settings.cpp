// The webhook channel's settings and secrets as stored, and its URL rule
// (webhook.h). No client here: the fuzz build links this file alone.
#include <fmt/format.h>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>

#include "core/webhook_signature.h"
#include "server/notify/settings_fields.h"
#include "server/notify/webhook.h"

namespace hoist::notify {

namespace json = boost::json;

namespace {

bool printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

}  // namespace

Status read_ca_file(const json::value& value, std::optional<std::string>& out) {
  if (!value.is_string() || value.as_string().empty() || value.as_string().size() > 4096 ||
      value.as_string().front() != '/') {
    return invalid_argument("ca_file must be an absolute path to a PEM file");
  }
  out = std::string(value.as_string());
  return {};
}

Status read_timeout(const json::value& value, std::chrono::seconds& out) {
  if (!value.is_int64() || value.as_int64() < kMinWebhookTimeout.count() ||
      value.as_int64() > kMaxWebhookTimeout.count()) {
    return invalid_argument(fmt::format("timeout_s must be a whole number of seconds from {} to {}",
                                        kMinWebhookTimeout.count(), kMaxWebhookTimeout.count()));
  }
  out = std::chrono::seconds(value.as_int64());
  return {};
}

Result<WebhookUrl> check_webhook_url(std::string_view url) {
  const auto bad = [](std::string_view why) {
    return invalid_argument(fmt::format("the webhook URL is not usable: {}; use https://HOST[:PORT]/PATH", why));
  };
  if (url.size() > kMaxUrlBytes) return bad(fmt::format("it is longer than {} bytes", kMaxUrlBytes));
  if (url.empty() || !printable_ascii(url)) return bad("it must be printable ASCII without spaces");
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return bad("it does not parse as a URL");
  const auto& u = *parsed;
  if (u.scheme_id() != boost::urls::scheme::https) return bad("only https is allowed");
  if (!u.has_authority() || u.encoded_host().empty()) return bad("it names no host");
  if (u.has_userinfo()) return bad("it must not contain a user name or password");
  if (u.has_fragment()) return bad("it must not have a fragment (#...)");
  const auto host_type = u.host_type();
  if (host_type != boost::urls::host_type::name && host_type != boost::urls::host_type::ipv4 &&
      host_type != boost::urls::host_type::ipv6) {
    return bad("the host is neither a DNS name nor an IP address");
  }
  if (u.has_port()) {
    const std::string_view port = u.port();
    const bool digits = !port.empty() && port.size() <= 5 &&
                        std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535) {
      return bad("the port is not between 1 and 65535");
    }
  }
  WebhookUrl out;
  out.origin = "https://" + std::string(u.encoded_host_and_port());
  std::string target(u.encoded_path());
  if (target.empty()) target = "/";
  if (target.front() != '/') return bad("the path must start with '/'");
  if (u.has_query()) target += "?" + std::string(u.encoded_query());
  out.target = std::move(target);
  return out;
}

std::string webhook_config_json(const WebhookConfig& c) {
  json::object o{{"url", c.url}};
  if (c.ca_file) o["ca_file"] = *c.ca_file;
  o["timeout_s"] = c.timeout.count();
  return json::serialize(o);
}

Result<WebhookConfig> parse_webhook_config(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return invalid_argument("a webhook channel's config must be a JSON object");
  const auto& o = v.as_object();
  WebhookConfig c;
  for (const auto& [key, value] : o) {
    if (key == "url") {
      if (!value.is_string()) return invalid_argument("url must be a string");
      c.url = std::string(value.as_string());
    } else if (key == "ca_file") {
      if (auto st = read_ca_file(value, c.ca_file); !st) return st.error();
    } else if (key == "timeout_s") {
      if (auto st = read_timeout(value, c.timeout); !st) return st.error();
    } else {
      return invalid_argument(
          fmt::format("a webhook channel has no setting \"{}\"", std::string_view(key).substr(0, 64)));
    }
  }
  if (c.url.empty()) return invalid_argument("a webhook channel needs a url");
  if (auto u = check_webhook_url(c.url); !u) return u.error();
  return c;
}

std::string webhook_secrets_json(const WebhookSecrets& s) {
  return channel_secrets_json(s);
}

Result<WebhookSecrets> parse_webhook_secrets(std::string_view text) {
  auto s = parse_channel_secrets(text);
  if (!s) return s.error();
  if (!webhook::parse_secret(s->current) || (s->previous && !webhook::parse_secret(*s->previous))) {
    return invalid_argument("the webhook channel's stored secrets do not read (this is a bug)");
  }
  return s;
}

}  // namespace hoist::notify
