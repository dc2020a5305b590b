// Named policies in the store: every version's text kept, assigned to
// endpoint groups (labels).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/result.h"

namespace hoist::store {

// One version of a named policy: the TOML text as an admin wrote it.
struct PolicyVersion {
  std::string name;
  int version = 0;  // 1, 2, 3, ...
  std::string text;
  std::string author;
  std::string comment;
  TimePoint created_at{};
};

// A named policy: its newest version and the endpoint groups (labels) it
// is assigned to. A deleted policy keeps its history but applies nowhere.
struct PolicyRecord {
  std::string name;
  int current_version = 0;
  std::vector<std::string> labels;
  std::optional<TimePoint> deleted_at;
};

// Inside a write transaction.
class PoliciesTx {
 public:
  virtual ~PoliciesTx() = default;
  // Adds the next version of policy `v.name` (creating the policy at
  // version 1), and returns it with its number. `expected_current` is the
  // version the writer read (0 for a new policy): Conflict when another
  // version was added meanwhile. Re-creating a deleted policy continues its
  // numbering. InvalidArgument for an empty name, text or author.
  virtual Result<PolicyVersion> add_policy_version(const PolicyVersion& v, int expected_current) = 0;
  // Replaces the endpoint groups the policy is assigned to. NotFound for an
  // unknown or deleted policy.
  virtual Status assign_policy(const std::string& name, const std::vector<std::string>& labels) = 0;
  // Marks the policy deleted (history kept, assignments removed). NotFound
  // for an unknown or already deleted policy.
  virtual Status delete_policy(const std::string& name, TimePoint at) = 0;
};

class PoliciesReader {
 public:
  virtual ~PoliciesReader() = default;
  virtual Result<std::optional<PolicyRecord>> policy(const std::string& name) = 0;
  virtual Result<std::vector<PolicyRecord>> policies() = 0;  // by name, deleted ones included
  // One version, or nullopt.
  virtual Result<std::optional<PolicyVersion>> policy_version(const std::string& name, int version) = 0;
  // Every version, oldest first.
  virtual Result<std::vector<PolicyVersion>> policy_history(const std::string& name) = 0;
  // Live policies assigned to any of `labels` (an endpoint's groups), by name.
  virtual Result<std::vector<PolicyRecord>> policies_for_labels(const std::vector<std::string>& labels) = 0;
};

}  // namespace hoist::store
