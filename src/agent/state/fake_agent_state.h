// An in-memory AgentState for the daemon's unit tests. It runs the same
// input checks as the SQLite store and passes the same conformance suite
// (tests/agent/agent_state_conformance.h), so a test that passes against it
// means the same against the real file.
//
// "Durable" here means: kept in a Contents object that outlives one
// FakeAgentState, so reopen() gives what a restart would. Faults can be
// injected: fail_writes(error) makes every mutating call fail with `error`
// and change nothing, as a full or failing disk would.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/state/agent_state.h"

namespace hoist::agent {

class FakeAgentState final : public AgentState {
 public:
  struct Contents;

  explicit FakeAgentState(OutboxLimits limits = {});
  // Shares `contents` with the instance it came from (see reopen()).
  FakeAgentState(std::shared_ptr<Contents> contents, OutboxLimits limits);

  // A new instance over the same contents, as after a restart.
  [[nodiscard]] std::unique_ptr<FakeAgentState> reopen() const;
  // While set, every mutating call fails with this error and changes nothing.
  void fail_writes(std::optional<Error> error);

  Result<std::optional<Identity>> identity() override;
  Status set_identity(const Identity& identity) override;
  Result<std::optional<ServerAnswer>> server_answer() override;
  Status set_server_answer(const ServerAnswer& answer) override;
  Result<std::optional<PolicySnapshot>> policy() override;
  Status set_policy(const PolicySnapshot& snapshot) override;
  Status upsert_grant(const Grant& grant) override;
  Status revoke_grant(const std::string& id, TimePoint at) override;
  Result<std::optional<Grant>> grant(const std::string& id) override;
  Result<std::vector<Grant>> active_grants(std::uint32_t uid, TimePoint now) override;
  Result<std::vector<Grant>> grants() override;
  Result<std::size_t> delete_grants_ended_before(TimePoint before) override;
  Status upsert_pending_request(const PendingRequest& request) override;
  Result<std::optional<PendingRequest>> pending_request(const std::string& id) override;
  Result<std::vector<PendingRequest>> pending_requests_for(std::uint32_t uid) override;
  Result<bool> remove_pending_request(const std::string& id) override;
  Status enqueue(const OutboxEvent& event) override;
  Status enqueue_all(const std::vector<OutboxEvent>& events) override;
  Result<std::vector<OutboxEvent>> next_batch(std::size_t limit) override;
  Status acknowledge(const std::vector<std::string>& ids) override;
  Result<std::uint64_t> pending_count() override;
  Status quarantine(const std::string& id, const std::string& reason, TimePoint at,
                    const std::optional<OutboxEvent>& report) override;
  Result<std::vector<QuarantinedEvent>> quarantined(std::size_t limit) override;
  Result<std::uint64_t> quarantined_count() override;
  Result<std::uint64_t> push_cursor() override;
  Status set_push_cursor(std::uint64_t seq) override;
  Status add_code_challenge(const CodeChallengeRecord& challenge, TimePoint now) override;
  Result<std::optional<CodeChallengeRecord>> code_challenge(std::uint32_t nonce) override;
  Result<bool> code_used(std::string_view kind, std::uint32_t ref, std::uint32_t generation) override;
  Status redeem_code(const CodeUse& use, const Grant& grant, const OutboxEvent& event) override;
  Result<CodeAttempts> code_attempts(std::uint32_t uid) override;
  Status record_code_failure(std::uint32_t uid, const CodeAttempts& attempts, const OutboxEvent& event) override;

 private:
  // With contents_->mu held; checked in full before anything changes.
  Status enqueue_locked(const std::vector<OutboxEvent>& events);

  std::shared_ptr<Contents> contents_;
  OutboxLimits limits_;
};

}  // namespace hoist::agent
