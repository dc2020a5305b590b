// What hoist-agent answers one request frame with: the reply frame, and,
// for a `check` that asked for it (record_after), the work that follows
// the reply: recording the decision's event durably, which gives the frame
// sent next (`recorded`, or an `error` when it could not be recorded).
// Agent::handle makes it; the socket server sends `reply`, then runs
// `follow_up` (progress frames go out meanwhile) and sends what it gives.
#pragma once

#include <functional>

#include "ipc/frame.h"

namespace hoist::agent {

struct Turn {
  ipc::Fields reply;
  // Empty: nothing follows the reply. Must not throw.
  std::function<ipc::Fields()> follow_up;
};

}  // namespace hoist::agent
