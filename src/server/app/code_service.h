// Offline temporary admin codes issued by a technician (docs/admin-codes.md)
// as hoistd's application service: a response to an endpoint's challenge,
// or a pre-issued code, made with the endpoint's current host key, its
// record stored and audited in one transaction. The API parses and renders
// (handlers_codes.cpp).
//
// MUST: a code is returned once and never stored: the store and the audit
// trail record who issued what for whom (the challenge's nonce or the
// pre-issued id, never the code).
// MUST: a code is made with the endpoint's current key generation, checked
// again when its record is stored, so a rotation cannot leave a code
// issued for the old key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "server/app/service_deps.h"
#include "store/store.h"

namespace hoist::app {

// POST /api/v1/codes as sent.
struct IssueCodeBody {
  std::string endpoint;  // its id
  std::string user;
  std::int64_t duration_s = 0;  // 0: missing
  std::optional<std::string> challenge;
  std::optional<std::string> command;
  std::optional<std::int64_t> days;
  std::optional<std::string> reason;
};

// The code, shown once, and what it is for.
struct IssuedCodeOutcome {
  std::string host;  // the endpoint's hostname
  std::uint32_t generation = 0;
  std::string command;  // "" for a temporary admin session
  store::IssuedCodeKind kind = store::IssuedCodeKind::kResponse;
  std::uint32_t valid_days = 0;          // pre-issued only
  std::optional<TimePoint> valid_until;  // pre-issued only
  std::int64_t id = 0;                   // the issued code's record
  std::string code;
};

class CodeService {
 public:
  // An empty master key: this hoistd issues no codes (Unavailable).
  CodeService(ServiceDeps deps, std::vector<std::uint8_t> master_key)
      : deps_(std::move(deps)), master_key_(std::move(master_key)) {}

  Result<IssuedCodeOutcome> issue(const IssueCodeBody& body, const std::string& actor, TimePoint now);

 private:
  ServiceDeps deps_;
  std::vector<std::uint8_t> master_key_;
};

}  // namespace hoist::app
