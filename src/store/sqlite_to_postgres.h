// `hoistd migrate`: one SQLite database copied into an empty PostgreSQL
// database, every table row by row in one PostgreSQL transaction, the
// audit trail as it is (the same seq numbers and hashes), then checked on
// PostgreSQL: the chain verifies through the PostgreSQL store up to the
// SQLite trail's head, and every table holds as many rows as in SQLite.
// docs/storage.md, "Moving from SQLite to PostgreSQL".
//
// MUST: the target is left as it was found (empty) unless every row was
// copied and checked: the copy commits once, and a check that fails after
// the commit empties the tables again.
// MUST: never merges: a target whose tables hold any row is refused before
// anything is written (checked under the write lock every replica takes,
// so a hoistd starting on it meanwhile waits or is seen).
// MUST: the SQLite file is only read (opened read-only, one read
// transaction: one snapshot); refused while another process has it open
// (a running hoistd would write past the snapshot), when its schema is
// not the newest this build knows, and when its audit trail does not
// verify.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/audit.h"
#include "core/result.h"
#include "store/pg_store.h"

namespace hoist::store {

// Every table of the SQLite schema in an order that inserts an owner
// before the rows referring to it (the foreign keys).
const std::vector<std::string>& migrated_tables();
// Tables of both schemas that are not copied: failed-login counts
// (logins.h), which a new database may forget.
const std::vector<std::string>& uncopied_tables();

struct MigrationReport {
  // Each table and the rows copied, in migrated_tables() order.
  std::vector<std::pair<std::string, std::uint64_t>> tables;
  std::uint64_t rows = 0;
  // The audit trail's head, on SQLite and (verified) on PostgreSQL; nullopt
  // for an empty trail.
  std::optional<ChainHead> audit_head;
  std::uint64_t audit_events = 0;
  int sqlite_schema_version = 0;
  int postgres_schema_version = 0;
};

// Copies the SQLite database at `sqlite_path` into the PostgreSQL
// database `target` names (migrating its schema first, as hoistd would).
// NotFound when the file does not exist; Conflict when the target holds
// rows or either schema is not the one this build knows; InvalidArgument
// when the SQLite trail does not verify or a value cannot be stored in
// PostgreSQL (text that is not UTF-8, a NUL byte); Unavailable when either
// database cannot be reached or the SQLite file is open in another
// process. `progress` hears one line per step.
Result<MigrationReport> migrate_sqlite_to_postgres(const std::string& sqlite_path, const PostgresOptions& target,
                                                   const std::function<void(const std::string&)>& progress = {});

}  // namespace hoist::store
