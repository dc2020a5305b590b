// Reads, parses and compiles a policy file from disk.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/evaluator.h"
#include "core/policy_file.h"

namespace hoist::platform {

struct LoadedPolicy {
  std::shared_ptr<const CompiledPolicy> policy;  // null when there are errors
  std::vector<PolicyDiagnostic> errors;
  // Why loading failed: NotFound/Unavailable for an unreadable file,
  // InvalidArgument for a policy with errors.
  ErrorCode error_code = ErrorCode::kInvalidArgument;
};

LoadedPolicy load_policy_file(const std::string& path, const TimeZones& zones);

}  // namespace hoist::platform
