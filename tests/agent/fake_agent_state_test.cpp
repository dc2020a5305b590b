#include "agent/state/fake_agent_state.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "agent_state_conformance.h"

namespace hoist::agent {
namespace {

using testing::AgentStateConformance;

// The fake's "disk" is the FakeAgentState that created it, kept here so
// reopen() can hand out another instance over the same contents.
std::map<std::string, std::unique_ptr<FakeAgentState>>& fake_disks() {
  static std::map<std::string, std::unique_ptr<FakeAgentState>> disks;
  return disks;
}

testing::AgentStateBackend fake_backend() {
  return {"fake",
          [](std::string& handle, const OutboxLimits& limits) -> std::unique_ptr<AgentState> {
            static int next = 0;
            handle = "fake-" + std::to_string(++next);
            auto origin = std::make_unique<FakeAgentState>(limits);
            auto state = origin->reopen();
            fake_disks()[handle] = std::move(origin);
            return state;
          },
          [](const std::string& handle, const OutboxLimits&) -> std::unique_ptr<AgentState> {
            return fake_disks().at(handle)->reopen();
          },
          [](const std::string& handle) { fake_disks().erase(handle); }};
}

INSTANTIATE_TEST_SUITE_P(Fake, AgentStateConformance, ::testing::Values(fake_backend()),
                         [](const auto& backend) { return backend.param.name; });

TEST(FakeAgentState, InjectedWriteFailuresChangeNothing) {
  FakeAgentState state;
  const OutboxEvent e{std::string(32, '1'), "decision", EventTime{}, "{}"};
  ASSERT_TRUE(state.enqueue(e).ok());
  state.fail_writes(unavailable("disk full"));
  const Status failed = state.enqueue(OutboxEvent{std::string(32, '2'), "decision", EventTime{}, "{}"});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(failed.error().message, "disk full");
  EXPECT_FALSE(state.acknowledge({e.id}).ok());
  EXPECT_FALSE(state.set_push_cursor(3).ok());
  EXPECT_EQ(*state.pending_count(), 1U);  // reads still work
  EXPECT_EQ(*state.push_cursor(), 0U);
  state.fail_writes(std::nullopt);
  EXPECT_TRUE(state.acknowledge({e.id}).ok());
  EXPECT_EQ(*state.pending_count(), 0U);
}

TEST(FakeAgentState, ReopenSharesTheContents) {
  FakeAgentState state;
  ASSERT_TRUE(state.set_push_cursor(9).ok());
  auto again = state.reopen();
  EXPECT_EQ(*again->push_cursor(), 9U);
}

}  // namespace
}  // namespace hoist::agent
