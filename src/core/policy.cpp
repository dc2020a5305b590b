#include "core/policy.h"

// Kept apart from the evaluator, so code that only names actions (the sudo
// plugin) does not pull in the evaluator and RE2.
namespace hoist {

std::string_view to_string(Action a) {
  switch (a) {
    case Action::kAllow: return "allow";
    case Action::kRequest: return "request";
    case Action::kDeny: return "deny";
  }
  return "deny";
}

std::string_view to_string(ApprovalMode m) {
  switch (m) {
    case ApprovalMode::kManual: return "manual";
    case ApprovalMode::kAutonomous: return "autonomous";
    case ApprovalMode::kSelf: return "self";
  }
  return "manual";
}

}  // namespace hoist
