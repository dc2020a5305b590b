// The typed client of the agent protocol (docs/agent-protocol.md), used by
// hoist_sudo.so and the hoist CLI alike: typed messages in, typed replies
// out, over one AgentConnection. No key/value fields at call sites.
//
// Every call answers a Reply: the agent's typed reply; or its refusal (an
// `error` frame: the agent's category and message); or no reply (not
// running, not answering, a malformed frame, interrupted); or a reply that
// does not decode. Callers tell them apart because the words and the way
// out differ (a refusal is final; a lost agent may mean break-glass, or
// "check it later").
//
// MUST: a reply of the wrong type or one that does not decode is never
// taken for an answer: it is garbled(), code kUnavailable, saying what came.
#pragma once

#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "core/result.h"
#include "endpoint/agent_connection.h"
#include "ipc/messages.h"

namespace hoist::endpoint {

template <class T>
class Reply {
 public:
  static Reply answered(T value) { return Reply(std::move(value), {}, Kind::kAnswered); }
  static Reply refused(Error error) { return Reply(std::nullopt, std::move(error), Kind::kRefused); }
  static Reply lost(Error error) { return Reply(std::nullopt, std::move(error), Kind::kLost); }
  static Reply garbled(Error error) { return Reply(std::nullopt, std::move(error), Kind::kGarbled); }

  // The agent answered with T.
  explicit operator bool() const { return kind_ == Kind::kAnswered; }
  // The agent answered with its refusal: error() is its category and words.
  [[nodiscard]] bool refused() const { return kind_ == Kind::kRefused; }
  // No reply came: not running, not answering, the connection failed or
  // the frame was malformed (kUnavailable), or the caller's flag cut the
  // wait short (kConflict "interrupted").
  [[nodiscard]] bool lost() const { return kind_ == Kind::kLost; }
  // A reply came but is not what was asked for or does not decode
  // (kUnavailable, "hoist-agent sent a malformed ...").
  [[nodiscard]] bool garbled() const { return kind_ == Kind::kGarbled; }
  [[nodiscard]] const Error& error() const { return error_; }

  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

  // Refusal, loss and garble alike as the Error.
  Result<T> result() && {
    if (value_) return std::move(*value_);
    return std::move(error_);
  }

 private:
  enum class Kind { kAnswered, kRefused, kLost, kGarbled };
  Reply(std::optional<T> value, Error error, Kind kind)
      : value_(std::move(value)), error_(std::move(error)), kind_(kind) {}
  std::optional<T> value_;
  Error error_;
  Kind kind_;
};

class AgentClient {
 public:
  // Connects to the agent's socket (AgentConnection::connect).
  static Result<AgentClient> connect(const std::string& socket_path, const AgentTimeouts& timeouts = {});

  // May this command run now? `fd` is the executable's descriptor (-1 for
  // an edit, decided on its files).
  // `record_after` (never for an edit): an allow may come before its
  // event is recorded; recorded() must then be read before the command
  // runs.
  Reply<ipc::DecisionMessage> check(const ipc::CommandContext& context, int fd,
                                    const std::function<void()>& meanwhile = {}, bool record_after = false);
  // After an allow to a check with record_after: the agent's word that the
  // decision is recorded (answered), or why not (refused: nothing may run),
  // or nothing (lost).
  Reply<ipc::RecordedMessage> recorded();
  // A `recorded` frame is still due.
  [[nodiscard]] bool record_due() const { return connection_.frame_due(); }
  // A process starting inside a recorded session (sudo's intercept).
  Reply<ipc::DecisionMessage> exec(const ipc::ExecMessage& m, int fd);
  Reply<ipc::RequestStateMessage> submit(const ipc::SubmitMessage& m);
  Reply<ipc::RequestStateMessage> elevate(const ipc::ElevateMessage& m);
  // The request's state, the agent holding the turn up to wait_ms. When
  // `interrupted` becomes non-zero meanwhile the turn ends lost() with
  // kConflict "interrupted" and the connection is unusable.
  Reply<ipc::RequestStateMessage> wait(const std::string& request_id, std::uint64_t wait_ms,
                                       const volatile std::sig_atomic_t* interrupted = nullptr);
  Reply<ipc::RequestStateMessage> cancel(const std::string& request_id);
  Reply<ipc::RequestStateMessage> self_approve(const std::string& request_id);
  Reply<ipc::ListingMessage> list(const ipc::ListMessage& m);
  Reply<ipc::ChallengeMessage> code_challenge(const std::string& user, std::uint32_t uid);
  Reply<ipc::CodeGrantMessage> code_redeem(const ipc::CodeRedeemMessage& m);

  [[nodiscard]] bool connected() const { return connection_.connected(); }

 private:
  explicit AgentClient(AgentConnection connection) : connection_(std::move(connection)) {}
  template <class T, class Decode>
  Reply<T> turn(const ipc::Fields& request, Decode decode, const char* what, int fd = -1, int extra_ms = 0,
                const volatile std::sig_atomic_t* interrupted = nullptr, const std::function<void()>& meanwhile = {},
                bool more_may_follow = false);
  // The typed reply (or refusal) in `reply`, a frame the agent sent.
  template <class T, class Decode>
  Reply<T> typed(Result<ipc::Fields> reply, Decode decode, const char* what);
  AgentConnection connection_;
};

}  // namespace hoist::endpoint
