// The approval flow that sudo (hoist_sudo.so) and `hoist elevate` share:
// after a request is sent, the requester may approve it themselves (where
// the policy lets them), then waits with a countdown while a technician
// decides; Ctrl-C withdraws it. One copy, driven through a Conversation
// (terminal.h), so the plugin and the CLI differ only in how they show it.
//
// MUST: an interrupt (the guard's signals) during the wait ends it at once
// and the caller withdraws the request (cancel_request) on a new
// connection: the interrupted one still owes a reply. MUST: the signal
// handlers the guard installs are restored when it ends, and a signal
// that arrived meanwhile is never passed on (sudo refuses to run a
// command while one of its own handlers has one pending). MUST: nothing
// but approved/active counts as approved; a lost agent leaves the request
// as it was and says how to follow it.
#pragma once

#include <csignal>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/result.h"
#include "endpoint/agent_client.h"
#include "endpoint/terminal.h"
#include "ipc/messages.h"

namespace hoist::endpoint {

// While alive: the given signals set interrupted() (no SA_RESTART, so a
// blocking poll() returns at once) and are unblocked; the old handlers and
// mask come back at the end. One guard at a time per process.
class InterruptGuard {
 public:
  explicit InterruptGuard(std::initializer_list<int> signals);
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  [[nodiscard]] bool interrupted() const;
  // For AgentClient::wait.
  [[nodiscard]] const volatile std::sig_atomic_t* flag() const;

 private:
  struct Saved;
  std::vector<Saved> saved_;
  sigset_t old_mask_{};
  bool masked_ = false;
};

// The signals that withdraw a request while its user waits, in sudo and
// in `hoist elevate` alike: Ctrl-C, a plain kill, and the terminal going
// away. Each is taken from the process's own handler for the wait (sudo's
// would mark it pending and kill sudo after the approval, leaving an
// approved grant nobody waits for).
inline constexpr std::initializer_list<int> kWithdrawSignals = {SIGINT, SIGTERM, SIGHUP};

// Approved, or active already.
bool is_approved(RequestState s);

struct WaitResult {
  enum class End {
    kApproved,     // state is approved or active
    kClosed,       // denied, expired, cancelled, revoked: state says which
    kTimedOut,     // still pending when the wait ran out
    kInterrupted,  // the guard's signal: withdraw the request
    kLost,         // no usable answer: error says why
  };
  End end = End::kLost;
  ipc::RequestStateMessage state;  // the last state heard
  Error error;
  bool no_reply = false;  // kLost: nothing came back (else a refusal or a reply that did not decode)
};

// Waits for a decision on `state`'s request for up to wait_s seconds,
// asking the agent once a second (each turn held open by the agent until
// something changes) and showing the countdown on conv's status line,
// which it clears before returning.
WaitResult wait_for_decision(AgentClient& agent, ipc::RequestStateMessage state, std::uint64_t wait_s,
                             Conversation& conv, const InterruptGuard& guard);

// Withdraws the request on a new connection to the agent at socket_path.
Status cancel_request(const std::string& socket_path, const std::string& request_id);

}  // namespace hoist::endpoint
