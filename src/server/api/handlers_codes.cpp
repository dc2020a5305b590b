// Offline temporary admin codes issued by a technician (docs/admin-codes.md):
// a response to an endpoint's challenge, or a pre-issued code. The code is
// returned once and never stored; the audit trail records who issued what
// for whom (the challenge's nonce or the pre-issued id, never the code).
#include <openssl/rand.h>

#include <fmt/format.h>

#include "core/admin_code.h"
#include "server/api/api_impl.h"

namespace hoist::api {

namespace {

constexpr std::uint32_t kKeyGeneration = 1;  // rotation: docs/admin-codes.md

std::uint32_t day_of(TimePoint t) {
  return static_cast<std::uint32_t>(t.time_since_epoch().count() / 86400);
}

}  // namespace

Result<net::HttpResponse> Api::Impl::issue_code(Call& call) {
  struct Body {
    std::string endpoint;
    std::string user;
    std::int64_t duration_s = 0;
    std::optional<std::string> challenge;
    std::optional<std::string> command;
    std::optional<std::int64_t> days;
    std::optional<std::string> reason;
  };
  auto body = read_body<Body>(call.request, [](JsonBody& b) {
    return Body{b.string("endpoint", 256),
                b.string("user", 256),
                b.optional_int("duration_s", 1, 24 * 3600).value_or(0),
                b.optional_string("challenge", 64),
                b.optional_string("command", 4096),
                b.optional_int("days", 1, 31),
                b.optional_string("reason", 2000)};
  });
  if (!body) {
    return body.error();
  }
  if (options.codes_master_key.empty()) {
    return unavailable("this hoistd has no admin-code key (see docs/admin-codes.md)");
  }
  if (body->duration_s == 0) {
    return invalid_argument("field \"duration_s\" is required");
  }
  if (body->challenge && body->days) {
    return invalid_argument("a response answers a challenge; \"days\" is for pre-issued codes only");
  }
  auto endpoint = deps.store.endpoint(body->endpoint);
  if (!endpoint) {
    return endpoint.error();
  }
  if (!*endpoint || (*endpoint)->retired_at) {
    return not_found(fmt::format("there is no enrolled endpoint {}", body->endpoint));
  }
  const std::string& host = (*endpoint)->hostname;
  auto key = codes::derive_host_key(options.codes_master_key, body->endpoint, kKeyGeneration);
  if (!key) {
    return key.error();
  }
  const codes::CodeTerms terms{body->user, Seconds{body->duration_s}, body->command.value_or("")};
  json::object details{{"endpoint", json_text(body->endpoint)},
                       {"user", json_text(body->user)},
                       {"duration_s", body->duration_s},
                       {"command", json_text(terms.command)},
                       {"reason", json_text(body->reason.value_or(""))}};
  json::object out{{"endpoint", json_text(body->endpoint)},
                   {"host", json_text(host)},
                   {"user", json_text(body->user)},
                   {"duration_s", body->duration_s},
                   {"command", json_text(terms.command)}};
  std::string code;
  if (body->challenge) {
    auto challenge = codes::parse_challenge(*body->challenge);
    if (!challenge) {
      return challenge.error();
    }
    if (challenge->host_tag != codes::host_tag(body->endpoint)) {
      return invalid_argument(
          fmt::format("this challenge was not made by {} ({}): check the computer", host, body->endpoint));
    }
    auto response = codes::compute_response(*key, *challenge, terms);
    if (!response) {
      return response.error();
    }
    code = *response;
    details["kind"] = "response";
    details["nonce"] = challenge->nonce;
    out["kind"] = "response";
  } else {
    std::uint32_t id = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&id), sizeof id) != 1) {
      return internal_error("no randomness for a code id (OpenSSL)");
    }
    const codes::PreIssued p{id & 0xFFFFFFU, day_of(deps.clock.now_s()),
                             static_cast<std::uint32_t>(body->days.value_or(1))};
    auto issued = codes::issue_preissued(*key, p, terms);
    if (!issued) {
      return issued.error();
    }
    code = *issued;
    details["kind"] = "preissued";
    details["code_id"] = p.id;
    details["days"] = p.days;
    out["kind"] = "preissued";
    out["valid_days"] = p.days;
    out["valid_until"] = json_time(TimePoint{Seconds{(static_cast<std::int64_t>(p.first_day) + p.days) * 86400}});
  }
  auto st = deps.store.write([&](store::StoreTx& tx) {
    return audit(tx, call.caller.actor(), "code.issued", body->endpoint, host, std::move(details));
  });
  if (!st) {
    return st.error();
  }
  out["code"] = code;
  return json_ok(std::move(out), 201);
}

}  // namespace hoist::api
