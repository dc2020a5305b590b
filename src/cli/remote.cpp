#include "cli/remote.h"

#include <fmt/format.h>
#include <boost/json/serialize.hpp>
#include <cstdio>

#include "cli/exit_codes.h"
#include "cli/terminal.h"

namespace hoist::cli {

namespace json = boost::json;

Result<std::unique_ptr<net::FailoverApiClient>> api_client_for(const std::string& servers,
                                                               const std::optional<std::string>& ca_fingerprint,
                                                               const std::optional<std::string>& ca_file,
                                                               std::vector<net::Header> headers) {
  auto urls = net::parse_server_list({servers});
  if (!urls) {
    return urls.error();
  }
  net::ClientOptions options;
  options.pin_fingerprint = ca_fingerprint;
  options.ca_file = ca_file;
  options.connect_timeout = std::chrono::seconds{5};
  options.request_timeout = std::chrono::seconds{60};
  options.max_response_bytes = std::size_t{256} << 20;  // audit exports
  return net::FailoverApiClient::create(std::make_shared<net::ServerSet>(std::move(*urls)), options,
                                        std::move(headers));
}

Result<std::unique_ptr<ApiClient>> connect_logged_in() {
  auto credentials = current_credentials();
  if (!credentials) {
    return credentials.error();
  }
  auto client = api_client_for(credentials->server, credentials->ca_fingerprint, credentials->ca_file,
                               {{"authorization", "Bearer " + credentials->token}});
  if (!client) {
    return client.error();
  }
  return std::unique_ptr<ApiClient>(std::move(*client));
}

int call_and_show(const Globals& globals, std::string_view method, const std::string& target,
                  const std::function<void(const json::value& reply)>& show) {
  return call_and_show(globals, method, target, nullptr, show);
}

int call_and_show(const Globals& globals, std::string_view method, const std::string& target, const json::value& body,
                  const std::function<void(const json::value& reply)>& show) {
  auto api = connect_logged_in();
  if (!api) {
    return report(api.error());
  }
  auto reply = call_json(**api, method, target, body);
  if (!reply) {
    return report(reply.error());
  }
  if (globals.json) {
    print_json(*reply);
  } else {
    show(*reply);
  }
  return kExitOk;
}

int report(const Error& error) {
  (void)std::fprintf(stderr, "hoist: %s\n", printable_lines(error.message).c_str());
  if (error.code == ErrorCode::kUnauthenticated && error.message.find("hoist login") == std::string::npos) {
    (void)std::fputs("hoist: log in again with `hoist login`\n", stderr);
  }
  return exit_code_for(error.code);
}

void print_json(const json::value& value) {
  const std::string text = json::serialize(value);
  (void)std::fwrite(text.data(), 1, text.size(), stdout);
  (void)std::fputc('\n', stdout);
}

namespace {
const json::value kNull;
}  // namespace

const json::value& field_of(const json::value& object, std::string_view key) {
  if (!object.is_object()) {
    return kNull;
  }
  const auto* v = object.as_object().if_contains(key);
  return v != nullptr ? *v : kNull;
}

std::string text_of(const json::value& object, std::string_view key) {
  const auto& v = field_of(object, key);
  if (v.is_string()) {
    return std::string(v.as_string());
  }
  if (v.is_int64() || v.is_uint64()) {
    return json::serialize(v);
  }
  return {};
}

long long number_of(const json::value& object, std::string_view key) {
  const auto& v = field_of(object, key);
  if (v.is_int64()) {
    return v.as_int64();
  }
  if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<long long>(v.as_uint64());
  }
  return 0;
}

bool flag_of(const json::value& object, std::string_view key) {
  const auto& v = field_of(object, key);
  return v.is_bool() && v.as_bool();
}

std::string joined_of(const json::value& object, std::string_view key) {
  const auto& v = field_of(object, key);
  std::string out;
  if (!v.is_array()) {
    return out;
  }
  for (const auto& item : v.as_array()) {
    if (!item.is_string()) {
      continue;
    }
    if (!out.empty()) {
      out += ", ";
    }
    out += item.as_string();
  }
  return out;
}

}  // namespace hoist::cli
