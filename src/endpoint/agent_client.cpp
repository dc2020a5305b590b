#include "endpoint/agent_client.h"

namespace hoist::endpoint {

Result<AgentClient> AgentClient::connect(const std::string& socket_path, const AgentTimeouts& timeouts) {
  auto connection = AgentConnection::connect(socket_path, timeouts);
  if (!connection) return connection.error();
  return AgentClient(std::move(*connection));
}

template <class T, class Decode>
Reply<T> AgentClient::typed(Result<ipc::Fields> reply, Decode decode, const char* what) {
  if (!reply) {
    // A frame that does not parse is an agent that cannot be understood.
    if (reply.error().code == ErrorCode::kInvalidArgument) return Reply<T>::lost(unavailable(reply.error().message));
    return Reply<T>::lost(reply.error());
  }
  auto type = ipc::message_type(*reply);
  if (type && *type == ipc::MessageType::kError) {
    auto e = ipc::error_from(*reply);
    if (!e) return Reply<T>::garbled(unavailable("hoist-agent sent a malformed error: " + e.error().message));
    return Reply<T>::refused(Error{e->code, std::move(e->message)});
  }
  auto value = decode(*reply);
  if (!value) {
    return Reply<T>::garbled(
        unavailable(std::string("hoist-agent sent a malformed ") + what + ": " + value.error().message));
  }
  return Reply<T>::answered(std::move(*value));
}

template <class T, class Decode>
Reply<T> AgentClient::turn(const ipc::Fields& request, Decode decode, const char* what, int fd, int extra_ms,
                           const volatile std::sig_atomic_t* interrupted, const std::function<void()>& meanwhile,
                           bool more_may_follow) {
  return typed<T>(connection_.call(request, fd, extra_ms, interrupted, meanwhile, more_may_follow), decode, what);
}

Reply<ipc::DecisionMessage> AgentClient::check(const ipc::CommandContext& context, int fd,
                                               const std::function<void()>& meanwhile, bool record_after) {
  auto decision = turn<ipc::DecisionMessage>(ipc::to_fields(ipc::CheckMessage{context, record_after}),
                                             ipc::decision_from, "decision", fd, 0, nullptr, meanwhile, record_after);
  if (record_after && connection_.frame_due() && !(decision && decision->action == Action::kAllow)) {
    // Only an allow is followed by `recorded`.
    if (auto st = connection_.nothing_follows(); !st) return Reply<ipc::DecisionMessage>::lost(st.error());
  }
  return decision;
}

Reply<ipc::RecordedMessage> AgentClient::recorded() {
  return typed<ipc::RecordedMessage>(connection_.next(), ipc::recorded_from, "record confirmation");
}

Reply<ipc::DecisionMessage> AgentClient::exec(const ipc::ExecMessage& m, int fd) {
  return turn<ipc::DecisionMessage>(ipc::to_fields(m), ipc::decision_from, "decision", fd);
}

Reply<ipc::RequestStateMessage> AgentClient::submit(const ipc::SubmitMessage& m) {
  return turn<ipc::RequestStateMessage>(ipc::to_fields(m), ipc::request_state_from, "request state");
}

Reply<ipc::RequestStateMessage> AgentClient::elevate(const ipc::ElevateMessage& m) {
  return turn<ipc::RequestStateMessage>(ipc::to_fields(m), ipc::request_state_from, "request state");
}

Reply<ipc::RequestStateMessage> AgentClient::wait(const std::string& request_id, std::uint64_t wait_ms,
                                                  const volatile std::sig_atomic_t* interrupted) {
  return turn<ipc::RequestStateMessage>(ipc::to_fields(ipc::WaitMessage{request_id, wait_ms}), ipc::request_state_from,
                                        "request state", -1, static_cast<int>(wait_ms), interrupted);
}

Reply<ipc::RequestStateMessage> AgentClient::cancel(const std::string& request_id) {
  return turn<ipc::RequestStateMessage>(ipc::to_fields(ipc::CancelMessage{request_id}), ipc::request_state_from,
                                        "request state");
}

Reply<ipc::RequestStateMessage> AgentClient::self_approve(const std::string& request_id) {
  return turn<ipc::RequestStateMessage>(ipc::to_fields(ipc::SelfApproveMessage{request_id}), ipc::request_state_from,
                                        "request state");
}

Reply<ipc::ListingMessage> AgentClient::list(const ipc::ListMessage& m) {
  return turn<ipc::ListingMessage>(ipc::to_fields(m), ipc::listing_from, "listing");
}

Reply<ipc::ChallengeMessage> AgentClient::code_challenge(const std::string& user, std::uint32_t uid) {
  return turn<ipc::ChallengeMessage>(ipc::to_fields(ipc::CodeChallengeMessage{user, uid}), ipc::challenge_from,
                                     "challenge");
}

Reply<ipc::CodeGrantMessage> AgentClient::code_redeem(const ipc::CodeRedeemMessage& m) {
  return turn<ipc::CodeGrantMessage>(ipc::to_fields(m), ipc::code_grant_from, "answer");
}

}  // namespace hoist::endpoint
