// The email channel's settings as stored, its address rules and its
// password check (email.h). No libcurl here: the fuzz build links this
// file alone.
#include <fmt/format.h>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <array>

#include "core/audit_kind.h"
#include "server/notify/email.h"

namespace hoist::notify {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxLocalPartBytes = 64;
constexpr std::size_t kMaxLabelBytes = 63;
constexpr std::size_t kMaxRequesterNameBytes = 64;
constexpr std::size_t kMaxCaFileBytes = 4096;
constexpr std::string_view kUserField = "{user}";

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// RFC 5322's atext: what a dot-atom's pieces are made of.
bool is_atext(char c) {
  return is_alnum(c) || std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

// The address as far as a message may quote it: printable and short.
std::string quoted(std::string_view s) {
  std::string out;
  for (const char c : s.substr(0, 64)) out += (c >= ' ' && c < 0x7f) ? c : '?';
  return out;
}

Status check_domain(std::string_view domain) {
  if (domain.empty() || domain.size() > 253) return invalid_argument("the domain must have 1 to 253 characters");
  std::size_t start = 0;
  for (;;) {
    const auto dot = domain.find('.', start);
    const auto label = domain.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > kMaxLabelBytes) {
      return invalid_argument("the domain's labels (between dots) must have 1 to 63 characters");
    }
    if (!std::all_of(label.begin(), label.end(), [](char c) { return is_alnum(c) || c == '-'; }) ||
        label.front() == '-' || label.back() == '-') {
      return invalid_argument("the domain may hold only letters, digits, '-' and dots");
    }
    if (dot == std::string_view::npos) return {};
    start = dot + 1;
  }
}

Status check_local_part(std::string_view local) {
  if (local.empty() || local.size() > kMaxLocalPartBytes) {
    return invalid_argument("the part before '@' must have 1 to 64 characters");
  }
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return invalid_argument("the part before '@' may not start or end with a dot or hold two in a row");
  }
  if (!std::all_of(local.begin(), local.end(), [](char c) { return is_atext(c) || c == '.'; })) {
    return invalid_argument(
        "the part before '@' may hold only letters, digits, dots and !#$%&'*+-/=?^_`{|}~ (no spaces, quotes, "
        "commas or angle brackets)");
  }
  return {};
}

Result<std::string> address_field(std::string_view field, const json::value& value) {
  if (!value.is_string()) return invalid_argument(fmt::format("{} must be a string: an email address", field));
  const std::string_view a = value.as_string();
  if (auto st = check_email_address(a); !st) {
    return invalid_argument(fmt::format("{} \"{}\" is not usable: {}", field, quoted(a), st.error().message));
  }
  return std::string(a);
}

}  // namespace

Status check_email_address(std::string_view address) {
  if (address.empty() || address.size() > kMaxEmailAddressBytes) {
    return invalid_argument(fmt::format("an email address has 3 to {} characters", kMaxEmailAddressBytes));
  }
  if (!printable_ascii(address)) {
    return invalid_argument("an email address is printable ASCII without spaces or control characters");
  }
  const auto at = address.find('@');
  if (at == std::string_view::npos || address.find('@', at + 1) != std::string_view::npos) {
    return invalid_argument("an email address holds exactly one '@'");
  }
  if (auto st = check_local_part(address.substr(0, at)); !st) return st;
  return check_domain(address.substr(at + 1));
}

Result<SmtpServer> check_smtp_url(std::string_view url) {
  const auto bad = [](std::string_view why) {
    return invalid_argument(
        fmt::format("smtp_url is not usable: {}; use smtp://HOST[:PORT] (STARTTLS) or smtps://HOST[:PORT]", why));
  };
  if (url.size() > kMaxSmtpUrlBytes) return bad(fmt::format("it is longer than {} bytes", kMaxSmtpUrlBytes));
  if (url.empty() || !printable_ascii(url)) return bad("it must be printable ASCII without spaces");
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return bad("it does not parse as a URL");
  const auto& u = *parsed;
  const std::string scheme(u.scheme());
  if (scheme != "smtp" && scheme != "smtps") return bad("only smtp and smtps are allowed");
  if (!u.has_authority() || u.encoded_host().empty()) return bad("it names no host");
  if (u.has_userinfo()) return bad("it must not contain a user name or password (use username and the secret)");
  if (!u.encoded_path().empty() && u.encoded_path() != "/") return bad("it must not have a path");
  if (u.has_query() || u.has_fragment()) return bad("it must not have a query or a fragment");
  const auto host_type = u.host_type();
  if (host_type != boost::urls::host_type::name && host_type != boost::urls::host_type::ipv4 &&
      host_type != boost::urls::host_type::ipv6) {
    return bad("the host is neither a DNS name nor an IP address");
  }
  if (host_type == boost::urls::host_type::name && !check_domain(u.encoded_host())) {
    return bad("the host name may hold only letters, digits, '-' and dots");
  }
  int port = scheme == "smtps" ? 465 : 25;
  if (u.has_port()) {
    const std::string_view p = u.port();
    const bool digits =
        !p.empty() && p.size() <= 5 && std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
    port = digits ? std::stoi(std::string(p)) : 0;
    if (port < 1 || port > 65535) return bad("the port is not between 1 and 65535");
  }
  return SmtpServer{scheme == "smtps", fmt::format("{}://{}:{}", scheme, std::string_view(u.encoded_host()), port)};
}

Status check_requester_template(std::string_view text) {
  const auto bad = [](std::string_view why) {
    return invalid_argument(fmt::format(
        "requester_template is not usable: {}; write the requester's address with {{user}} for the name, e.g. "
        "\"{{user}}@example.com\"",
        why));
  };
  const auto first = text.find(kUserField);
  if (first == std::string_view::npos) return bad("it holds no {user}");
  if (text.find(kUserField, first + 1) != std::string_view::npos) return bad("it holds {user} twice");
  std::string rest(text);
  rest.erase(first, kUserField.size());
  if (rest.find_first_of("{}") != std::string::npos) return bad("it holds a brace that is not part of {user}");
  if (text == kUserField) return {};  // the names are addresses already
  auto sample = requester_address(text, "user");
  if (!sample) return bad(sample.error().message);
  return {};
}

Result<std::string> requester_address(std::string_view template_text, std::string_view user) {
  if (user.empty() || user.size() > kMaxRequesterNameBytes) {
    return invalid_argument(
        fmt::format("the requester's name must have 1 to {} characters to make an address", kMaxRequesterNameBytes));
  }
  if (!std::all_of(user.begin(), user.end(),
                   [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-' || c == '@'; })) {
    return invalid_argument(fmt::format(
        "the requester's name \"{}\" makes no address: only letters, digits, '.', '_', '-' and '@' are used",
        quoted(user)));
  }
  const auto at = template_text.find(kUserField);
  if (at == std::string_view::npos) return invalid_argument("the requester template holds no {user} (this is a bug)");
  std::string address(template_text);
  address.replace(at, kUserField.size(), user);
  if (auto st = check_email_address(address); !st) {
    return invalid_argument(fmt::format("the requester's name \"{}\" makes no valid address under the template: {}",
                                        quoted(user), st.error().message));
  }
  return address;
}

bool tells_requester(std::string_view action) {
  static constexpr std::array kOutcomes = {AuditKind::kRequestApproved, AuditKind::kRequestDenied,
                                           AuditKind::kRequestExpired, AuditKind::kRequestCancelled,
                                           AuditKind::kGrantRevoked};
  return std::any_of(kOutcomes.begin(), kOutcomes.end(), [&](AuditKind k) { return to_string(k) == action; });
}

std::string email_config_json(const EmailConfig& c) {
  json::array to;
  for (const auto& a : c.to) to.emplace_back(a);
  json::object o{{"smtp_url", c.smtp_url}, {"from", c.from}, {"to", std::move(to)}};
  if (c.username) o["username"] = *c.username;
  if (c.ca_file) o["ca_file"] = *c.ca_file;
  o["timeout_s"] = c.timeout.count();
  if (c.requester_template) o["requester_template"] = *c.requester_template;
  return json::serialize(o);
}

Result<EmailConfig> parse_email_config(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return invalid_argument("an email channel's config must be a JSON object");
  EmailConfig c;
  bool has_url = false;
  bool has_from = false;
  for (const auto& [key, value] : v.as_object()) {
    if (key == "smtp_url") {
      if (!value.is_string()) return invalid_argument("smtp_url must be a string: smtp://HOST[:PORT]");
      if (auto url = check_smtp_url(value.as_string()); !url) return url.error();
      c.smtp_url = std::string(value.as_string());
      has_url = true;
    } else if (key == "from") {
      auto a = address_field("from", value);
      if (!a) return a.error();
      c.from = std::move(*a);
      has_from = true;
    } else if (key == "to") {
      if (!value.is_array()) return invalid_argument("to must be a list of email addresses");
      if (value.as_array().size() > kMaxEmailRecipients) {
        return invalid_argument(fmt::format("to holds at most {} addresses", kMaxEmailRecipients));
      }
      for (std::size_t i = 0; i < value.as_array().size(); ++i) {
        auto a = address_field(fmt::format("to[{}]", i), value.as_array()[i]);
        if (!a) return a.error();
        c.to.push_back(std::move(*a));
      }
    } else if (key == "username") {
      if (!value.is_string() || value.as_string().empty() || value.as_string().size() > kMaxSmtpUsernameBytes ||
          !std::all_of(value.as_string().begin(), value.as_string().end(),
                       [](char ch) { return ch >= ' ' && ch < 0x7f; })) {
        return invalid_argument(
            fmt::format("username must be 1 to {} printable ASCII characters", kMaxSmtpUsernameBytes));
      }
      c.username = std::string(value.as_string());
    } else if (key == "ca_file") {
      if (!value.is_string() || value.as_string().empty() || value.as_string().size() > kMaxCaFileBytes ||
          value.as_string().front() != '/') {
        return invalid_argument("ca_file must be an absolute path to a PEM file");
      }
      c.ca_file = std::string(value.as_string());
    } else if (key == "timeout_s") {
      if (!value.is_int64() || value.as_int64() < kMinEmailTimeout.count() ||
          value.as_int64() > kMaxEmailTimeout.count()) {
        return invalid_argument(fmt::format("timeout_s must be a whole number of seconds from {} to {}",
                                            kMinEmailTimeout.count(), kMaxEmailTimeout.count()));
      }
      c.timeout = std::chrono::seconds(value.as_int64());
    } else if (key == "requester_template") {
      if (!value.is_string())
        return invalid_argument("requester_template must be a string, e.g. \"{user}@example.com\"");
      if (auto st = check_requester_template(value.as_string()); !st) return st.error();
      c.requester_template = std::string(value.as_string());
    } else {
      return invalid_argument(fmt::format(
          "an email channel has no setting \"{}\"; its settings are smtp_url, from, to, username, ca_file, timeout_s "
          "and requester_template",
          quoted(key)));
    }
  }
  if (!has_url)
    return invalid_argument("an email channel needs an smtp_url: smtp://HOST[:PORT] or smtps://HOST[:PORT]");
  if (!has_from) return invalid_argument("an email channel needs a from address");
  if (c.to.empty() && !c.requester_template) {
    return invalid_argument("an email channel needs at least one address in to, or a requester_template");
  }
  return c;
}

bool email_needs_password(std::string_view config) {
  auto c = parse_email_config(config);
  return c && c->username.has_value();
}

Status check_smtp_password(std::string_view /*config*/, std::string_view secret) {
  if (secret.empty() || secret.size() > kMaxSmtpPasswordBytes) {
    return invalid_argument(fmt::format("the SMTP password must have 1 to {} bytes", kMaxSmtpPasswordBytes));
  }
  if (std::any_of(secret.begin(), secret.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return invalid_argument("the SMTP password must not hold control characters (not shown)");
  }
  return {};
}

}  // namespace hoist::notify
