// The policy file: TOML text -> Policy. Pure (the caller reads the file).
// Strict on purpose: unknown fields, wrong types, impossible combinations and
// unknown time zones are errors, each naming file, line, field and what is
// expected, so a typo never silently widens or narrows who may be root.
// The format is documented in docs/policy.md; examples/policy.toml uses
// every rule type.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy.h"
#include "core/time_window.h"

namespace hoist {

struct PolicyDiagnostic {
  std::string file;
  int line = 0;         // 1-based; 0 when unknown
  int column = 0;       // 1-based; 0 when unknown
  std::string where;    // "rule \"apt\" field \"action\"", "settings", ...
  std::string message;  // what is wrong and what is expected

  // "file:line:column: where: message"
  [[nodiscard]] std::string to_string() const;
};

struct PolicyParseResult {
  std::optional<Policy> policy;  // set only when there are no errors
  std::vector<PolicyDiagnostic> errors;
};

// Policy files larger than this are refused before parsing.
inline constexpr std::size_t kMaxPolicyBytes = 16U << 20;

// `zones` checks time zone names; every error found is reported, not only
// the first.
PolicyParseResult parse_policy(std::string_view text, std::string_view file_name, const TimeZones& zones);

}  // namespace hoist
