// What `hoist` exits with. One table, used by every subcommand.
#pragma once

#include "core/evaluator.h"
#include "core/result.h"

namespace hoist::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitDeny = 1,          // policy test: the decision is deny
  kExitRequest = 2,       // policy test: the decision is request
  kExitUsage = 64,        // bad command line (EX_USAGE)
  kExitInvalid = 65,      // invalid input data, such as a policy with errors (EX_DATAERR)
  kExitNotFound = 66,     // a named file or object does not exist (EX_NOINPUT)
  kExitNoLogin = 67,      // not logged in, or the credentials were refused (EX_NOUSER)
  kExitUnavailable = 69,  // the server cannot be reached or is busy (EX_UNAVAILABLE)
  kExitInternal = 70,
  kExitConflict = 75,
  kExitPermission = 77,  // logged in, but the role does not allow it (EX_NOPERM)
};

inline int exit_code_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return kExitInvalid;
    case ErrorCode::kNotFound: return kExitNotFound;
    case ErrorCode::kPermissionDenied: return kExitPermission;
    case ErrorCode::kUnauthenticated: return kExitNoLogin;
    case ErrorCode::kConflict: return kExitConflict;
    case ErrorCode::kRateLimited: return kExitUnavailable;
    case ErrorCode::kUnavailable: return kExitUnavailable;
    case ErrorCode::kInternal: return kExitInternal;
  }
  return kExitInternal;
}

inline int exit_code_for(Action a) {
  switch (a) {
    case Action::kAllow: return kExitOk;
    case Action::kRequest: return kExitRequest;
    case Action::kDeny: return kExitDeny;
  }
  return kExitDeny;
}

}  // namespace hoist::cli
