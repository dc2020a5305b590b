#include "server/app/code_service.h"

#include <openssl/rand.h>

#include <fmt/format.h>

#include <utility>

#include "core/admin_code.h"

namespace hoist::app {

namespace {

std::uint32_t day_of(TimePoint t) {
  return static_cast<std::uint32_t>(t.time_since_epoch().count() / 86400);
}

}  // namespace

Result<IssuedCodeOutcome> CodeService::issue(const IssueCodeBody& body, const std::string& actor, TimePoint now) {
  if (master_key_.empty()) {
    return unavailable("this hoistd has no admin-code key (see docs/admin-codes.md)");
  }
  if (body.duration_s == 0) {
    return invalid_argument("field \"duration_s\" is required");
  }
  if (body.challenge && body.days) {
    return invalid_argument("a response answers a challenge; \"days\" is for pre-issued codes only");
  }
  auto endpoint = deps_.store.endpoint(body.endpoint);
  if (!endpoint) {
    return endpoint.error();
  }
  if (!*endpoint || (*endpoint)->retired_at) {
    return not_found(fmt::format("there is no enrolled endpoint {}", body.endpoint));
  }
  IssuedCodeOutcome out;
  out.host = (*endpoint)->hostname;
  out.generation = (*endpoint)->codes_key_generation;
  const std::string& host = out.host;
  auto key = codes::derive_host_key(master_key_, body.endpoint, out.generation);
  if (!key) {
    return key.error();
  }
  store::IssuedCode record;
  record.endpoint_id = body.endpoint;
  record.generation = out.generation;
  record.user = body.user;
  record.duration_s = body.duration_s;
  record.command = body.command.value_or("");
  record.issued_by = actor;
  record.issued_at = now;
  const codes::CodeTerms terms{body.user, Seconds{body.duration_s}, body.command.value_or("")};
  out.command = terms.command;
  audited::CodeIssued::Code issued_as;
  if (body.challenge) {
    auto challenge = codes::parse_challenge(*body.challenge);
    if (!challenge) {
      return challenge.error();
    }
    if (challenge->host_tag != codes::host_tag(body.endpoint)) {
      return invalid_argument(
          fmt::format("this challenge was not made by {} ({}): check the computer", host, body.endpoint));
    }
    auto response = codes::compute_response(*key, *challenge, terms);
    if (!response) {
      return response.error();
    }
    out.code = *response;
    issued_as = audited::CodeIssued::Response{.nonce = challenge->nonce};
    out.kind = store::IssuedCodeKind::kResponse;
    record.kind = store::IssuedCodeKind::kResponse;
    record.ref = challenge->nonce;
  } else {
    std::uint32_t id = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&id), sizeof id) != 1) {
      return internal_error("no randomness for a code id (OpenSSL)");
    }
    const codes::PreIssued p{id & 0xFFFFFFU, day_of(now), static_cast<std::uint32_t>(body.days.value_or(1))};
    auto issued = codes::issue_preissued(*key, p, terms);
    if (!issued) {
      return issued.error();
    }
    out.code = *issued;
    issued_as = audited::CodeIssued::PreIssued{.code_id = p.id, .days = p.days};
    out.kind = store::IssuedCodeKind::kPreIssued;
    out.valid_days = p.days;
    const TimePoint valid_until{Seconds{(static_cast<std::int64_t>(p.first_day) + p.days) * 86400}};
    out.valid_until = valid_until;
    record.kind = store::IssuedCodeKind::kPreIssued;
    record.ref = p.id;
    record.valid_until = valid_until;
  }
  auto st = deps_.store.write([&](store::StoreTx& tx) -> Status {
    auto stored = tx.insert_issued_code(record);
    if (!stored) {
      if (stored.error().code == ErrorCode::kConflict) {
        return conflict(fmt::format("the admin-code key of {} was rotated meanwhile: issue the code again", host));
      }
      return stored.error().code == ErrorCode::kNotFound
                 ? Status{not_found(fmt::format("there is no enrolled endpoint {}", body.endpoint))}
                 : Status{stored.error()};
    }
    out.id = stored->id;
    return audit(deps_, tx, actor,
                 audited::CodeIssued{.endpoint = body.endpoint,
                                     .user = body.user,
                                     .duration_s = body.duration_s,
                                     .command = terms.command,
                                     .reason = body.reason.value_or(""),
                                     .generation = out.generation,
                                     .code = issued_as,
                                     .issued_code_id = out.id},
                 body.endpoint, host);
  });
  if (!st) {
    return st.error();
  }
  return out;
}

}  // namespace hoist::app
