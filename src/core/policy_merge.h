// An endpoint's effective policy: the merge of the named policies assigned
// to its endpoint groups. Pure; the server and the agent both call it, so
// they decide alike.
//
// Semantics (the input order is the caller's: sort by policy name):
//
//   Rules are concatenated in input order. Rule "r" of policy "p" becomes
//   "p/r"; auto-approval "a" becomes "p/a" and its rule references become
//   "p/<rule>", so an auto-approval only ever covers rules of its own policy.
//   An auto-approval that listed no rules ("any autonomous rule") is given
//   the list of its own policy's autonomous request rules, or dropped when
//   that policy has none (an empty list would reach into other policies).
//
//   Each rule keeps the decision its own policy gives it: the evaluator
//   (evaluator.cpp) takes from Settings, for a matched rule, only
//   max_duration (the default and a cap) and default_duration (the default),
//   so both are written into every rule as the values its own policy yields:
//     max_duration     = min(rule.max_duration or settings.max_duration,
//                            settings.max_duration)
//     default_duration = min(rule.default_duration or settings.default_duration,
//                            that max_duration)
//   reauthenticate and self_approval_groups are copied unchanged: the
//   evaluator reads them from the rule alone, and the policy file parser
//   has already filled them from [settings] when a rule does not set them
//   (a rule's explicit "reauthenticate = false" overrides settings, so
//   "rule || settings" would change decisions).
//   LIMITATION: the evaluator also caps every rule's max_duration by the
//   merged settings.max_duration, which is the minimum below; a rule from a
//   policy with a longer maximum is therefore capped at the shortest maximum
//   of all merged policies (more restrictive, never less).
//
//   Merged settings are the most restrictive: default_action is deny if any
//   policy denies by default (else request, else allow); default_duration
//   (then capped by max_duration), max_duration, approval_wait and
//   request_expiry are the minimum; contact is the first non-empty one;
//   self_approval_groups is the intersection (groups every policy allows,
//   in the first policy's order; the evaluator's no-rule default does not
//   read it today); reauthenticate is true if any policy sets it.
//
//   No policies: default_action deny and no rules. Nothing assigned means
//   nothing is granted.
//
// Errors (InvalidArgument, naming the policy): a name that is empty or
// contains '/', whitespace or a control character; two policies with the
// same name; a policy whose format version is not kPolicyFormatVersion.
#pragma once

#include <string>
#include <vector>

#include "core/policy.h"
#include "core/result.h"

namespace hoist {

struct NamedPolicy {
  std::string name;
  int version = 0;  // the named policy's revision; the merge does not read it
  Policy policy;
};

Result<Policy> merge_policies(const std::vector<NamedPolicy>& policies);

}  // namespace hoist
