// The behaviour every AgentState must have, run against the SQLite store and
// the in-memory fake. A backend is instantiated with an AgentStateBackend
// that creates a fresh state, reopens it (as after a restart) and destroys it.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "agent/state/agent_state.h"

namespace hoist::agent::testing {

struct AgentStateBackend {
  std::string name;
  // A new empty state with these outbox limits; `handle` names it for
  // reopen() and destroy().
  std::function<std::unique_ptr<AgentState>(std::string& handle, const OutboxLimits& limits)> create;
  // The state created with `handle`, opened again. The caller has released
  // the previous instance.
  std::function<std::unique_ptr<AgentState>(const std::string& handle, const OutboxLimits& limits)> reopen;
  std::function<void(const std::string& handle)> destroy;
};

inline void PrintTo(const AgentStateBackend& backend, std::ostream* os) {
  *os << backend.name;
}

class AgentStateConformance : public ::testing::TestWithParam<AgentStateBackend> {
 protected:
  void SetUp() override {
    state_ = GetParam().create(handle_, limits_);
    ASSERT_NE(state_, nullptr);
  }
  void TearDown() override {
    state_.reset();
    if (!handle_.empty()) GetParam().destroy(handle_);
  }
  // Closes the state and opens it again.
  void reopen() {
    state_.reset();
    state_ = GetParam().reopen(handle_, limits_);
    ASSERT_NE(state_, nullptr);
  }
  // Starts over with other outbox limits.
  void recreate(const OutboxLimits& limits) {
    TearDown();
    handle_.clear();
    limits_ = limits;
    SetUp();
  }

  std::unique_ptr<AgentState> state_;
  std::string handle_;
  OutboxLimits limits_;
};

}  // namespace hoist::agent::testing
