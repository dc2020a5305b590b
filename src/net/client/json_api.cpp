#include "net/client/json_api.h"

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "net/http_error.h"

namespace hoist::net {

namespace json = boost::json;

Result<HttpResponse> HttpsApiClient::send(std::string_view method, std::string_view target, std::string_view body,
                                          const std::vector<Header>& headers) {
  std::vector<Header> all = headers_;
  all.insert(all.end(), headers.begin(), headers.end());
  return client_->request(method, target, body, all);
}

Error error_from_reply(const HttpResponse& reply) {
  ErrorCode code = error_code_for_status(reply.status);
  std::string message;
  json::error_code ec;
  const auto body = json::parse(reply.body, ec);
  if (!ec && body.is_object()) {
    if (const auto* error = body.as_object().if_contains("error"); error != nullptr && error->is_object()) {
      const auto& e = error->as_object();
      if (const auto* m = e.if_contains("message"); m != nullptr && m->is_string()) {
        message = std::string(m->as_string());
      }
      if (const auto* c = e.if_contains("code"); c != nullptr && c->is_string()) {
        if (auto parsed = error_code_from_name(c->as_string())) {
          code = *parsed;
        }
      }
    }
  }
  if (message.empty()) {
    message = fmt::format("the server answered HTTP {}", reply.status);
  }
  return {code, std::move(message)};
}

Result<json::value> call_json(ApiClient& api, std::string_view method, std::string_view target, const json::value& body,
                              const std::vector<Header>& headers) {
  const std::string text = body.is_null() ? std::string() : json::serialize(body);
  auto reply = api.send(method, target, text, headers);
  if (!reply) {
    return reply.error();
  }
  if (reply->status < 200 || reply->status > 299) {
    return error_from_reply(*reply);
  }
  json::error_code ec;
  auto value = json::parse(reply->body, ec);
  if (ec) {
    return internal_error(fmt::format("the server's answer to {} {} is not JSON ({})", method, target, ec.message()));
  }
  return value;
}

std::string url_encode(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' || b == '.' ||
        b == '_' || b == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", b);
    }
  }
  return out;
}

std::string query_string(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [key, value] : params) {
    if (value.empty()) {
      continue;
    }
    out += out.empty() ? '?' : '&';
    out += url_encode(key);
    out += '=';
    out += url_encode(value);
  }
  return out;
}

}  // namespace hoist::net
