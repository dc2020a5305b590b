// The embedded default backend: one SQLite file in WAL mode with foreign
// keys on and a busy timeout, upgraded by numbered migrations on open.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace hoist::store {

// Every migration, in order; migration N (1-based) brings the schema from
// version N-1 to N. Never edit one that has shipped: add the next.
const std::vector<std::string_view>& sqlite_migrations();

struct SqliteOptions {
  int busy_timeout_ms = 5000;
  // Stop after this many migrations (tests of upgrades from each earlier
  // version); -1 applies all.
  int migrate_to = -1;
  // How many prepared statements to keep, by SQL text. The store uses about
  // 145 texts; past the cap a text is prepared for each use. 0 keeps none.
  std::size_t statement_cache_size = 256;
  // Called once migrations have brought an existing database (from > 0)
  // or a new one (from 0) to a newer schema; not called when none ran.
  std::function<void(int from, int to)> on_migrated;
};

// Opens (creating if needed) the database at path and applies the pending
// migrations. Fails with Unavailable when the file cannot be opened and
// with Conflict when the database is newer than this build knows.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, const SqliteOptions& options = {});

}  // namespace hoist::store
