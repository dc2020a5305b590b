// The Teams channel's settings and secret (teams.h). No client here: the
// fuzz build links this file alone.
#include <fmt/format.h>
#include <boost/json.hpp>

#include "server/notify/settings_fields.h"
#include "server/notify/teams.h"
#include "server/notify/webhook.h"

namespace hoist::notify {

namespace json = boost::json;

std::string teams_config_json(const TeamsConfig& c) {
  json::object o;
  if (c.ca_file) o["ca_file"] = *c.ca_file;
  o["timeout_s"] = c.timeout.count();
  return json::serialize(o);
}

Result<TeamsConfig> parse_teams_config(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return invalid_argument("a teams channel's config must be a JSON object");
  TeamsConfig c;
  for (const auto& [key, value] : v.as_object()) {
    if (key == "ca_file") {
      if (auto st = read_ca_file(value, c.ca_file); !st) return st.error();
    } else if (key == "timeout_s") {
      if (auto st = read_timeout(value, c.timeout); !st) return st.error();
    } else if (key == "url") {
      return invalid_argument("a teams channel's Workflows URL is its secret, not a setting: give it as secret");
    } else {
      return invalid_argument(fmt::format("a teams channel has no setting \"{}\" (it has ca_file, timeout_s)",
                                          std::string_view(key).substr(0, 64)));
    }
  }
  return c;
}

Status check_teams_secret(std::string_view secret) {
  if (auto url = check_webhook_url(secret); !url) return url.error();
  return {};
}

}  // namespace hoist::notify
