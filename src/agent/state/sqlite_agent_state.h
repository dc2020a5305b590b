// The real AgentState: one SQLite file (WAL, synchronous=FULL, foreign
// keys, busy timeout) in a checked private directory (see state_dir.h),
// upgraded by numbered migrations on open. See docs/agent-state.md.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/state/agent_state.h"
#include "core/result.h"

namespace hoist::agent {

inline constexpr std::string_view kDefaultStateDir = "/var/lib/hoist-agent";

struct SqliteAgentStateOptions {
  std::string db_name = "agent.db";
  int busy_timeout_ms = 5000;
  OutboxLimits outbox;
  // Run PRAGMA quick_check on open and refuse a damaged file.
  bool check_on_open = true;
  // Stop after this many migrations (tests of upgrades); -1 applies all.
  int migrate_to = -1;
  // A reader beside the running agent (hoist-agent status): no lock, no
  // file created, no migration (an older schema is Unavailable: the agent
  // upgrades it when it starts); every write fails.
  bool read_only = false;
};

// Every migration, in order; migration N (1-based) brings the schema from
// version N-1 to N (PRAGMA user_version). Never edit one that has shipped:
// add the next.
const std::vector<std::string_view>& sqlite_agent_state_migrations();

// Opens (creating if needed) the state in `dir`. Fails with InvalidArgument
// when the directory or file is refused (state_dir.h: symlink, wrong owner,
// unsafe mode), Unavailable when it cannot be created, opened or locked,
// Conflict when the database is newer than this build, and Internal when
// the file is damaged. Every message names the path.
Result<std::unique_ptr<AgentState>> open_sqlite_agent_state(const std::string& dir,
                                                            const SqliteAgentStateOptions& options = {});

}  // namespace hoist::agent
