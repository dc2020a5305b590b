#include "endpoint/approval.h"

#include <poll.h>
#include <time.h>

#include <algorithm>

namespace hoist::endpoint {
namespace {

constexpr std::int64_t kWaitTurnMs = 1000;

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_interrupt(int /*signo*/) {
  g_interrupted = 1;
}

std::int64_t monotonic_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

}  // namespace

struct InterruptGuard::Saved {
  int signo = 0;
  struct sigaction old {};
};

InterruptGuard::InterruptGuard(std::initializer_list<int> signals) {
  g_interrupted = 0;
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sigset_t set;
  sigemptyset(&set);
  saved_.reserve(signals.size());  // nothing below allocates once a handler is in
  for (const int signo : signals) {
    Saved saved;
    saved.signo = signo;
    if (::sigaction(signo, &sa, &saved.old) != 0) continue;  // not ours: left blocked as it was
    saved_.push_back(saved);
    sigaddset(&set, signo);
  }
  masked_ = ::sigprocmask(SIG_UNBLOCK, &set, &old_mask_) == 0;
}

InterruptGuard::~InterruptGuard() {
  if (masked_) ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
  for (const auto& saved : saved_) ::sigaction(saved.signo, &saved.old, nullptr);
}

bool InterruptGuard::interrupted() const {
  return g_interrupted != 0;
}

const volatile std::sig_atomic_t* InterruptGuard::flag() const {
  return &g_interrupted;
}

bool is_approved(RequestState s) {
  return s == RequestState::kApproved || s == RequestState::kActive;
}

WaitResult wait_for_decision(AgentClient& agent, ipc::RequestStateMessage state, std::uint64_t wait_s,
                             Conversation& conv, const InterruptGuard& guard) {
  const std::int64_t deadline = monotonic_ms() + static_cast<std::int64_t>(wait_s) * 1000;
  bool drew = false;
  auto end = [&](WaitResult::End how, Error error = {}, bool no_reply = false) {
    if (drew) {
      conv.status_line(std::string(countdown_line(state.request_id, 0).size(), ' '));
      conv.status_line("");
    }
    return WaitResult{how, std::move(state), std::move(error), no_reply};
  };
  for (;;) {
    if (is_approved(state.state)) return end(WaitResult::End::kApproved);
    if (state.state != RequestState::kPending) return end(WaitResult::End::kClosed);
    const std::int64_t left = deadline - monotonic_ms();
    if (left <= 0) return end(WaitResult::End::kTimedOut);
    conv.status_line(countdown_line(state.request_id, static_cast<std::uint64_t>((left + 999) / 1000)));
    drew = true;
    const std::int64_t turn = std::min(kWaitTurnMs, left);
    const std::int64_t started = monotonic_ms();
    auto next = agent.wait(state.request_id, static_cast<std::uint64_t>(turn), guard.flag());
    if (guard.interrupted()) return end(WaitResult::End::kInterrupted);
    if (!next) return end(WaitResult::End::kLost, next.error(), next.lost());
    state = std::move(*next);
    // Decided: act on it at once. Still pending, the agent may have
    // answered early (a quick reply): keep to one turn a second.
    if (state.state != RequestState::kPending) continue;
    for (std::int64_t rest = turn - (monotonic_ms() - started); rest > 0 && !guard.interrupted();
         rest = turn - (monotonic_ms() - started)) {
      ::poll(nullptr, 0, static_cast<int>(rest));
    }
    if (guard.interrupted()) return end(WaitResult::End::kInterrupted);
  }
}

Status cancel_request(const std::string& socket_path, const std::string& request_id) {
  auto agent = AgentClient::connect(socket_path);
  if (!agent) return agent.error();
  auto cancelled = agent->cancel(request_id);
  if (!cancelled) return cancelled.error();
  return {};
}

}  // namespace hoist::endpoint
