// The backend for several hoistd replicas: one PostgreSQL database (13 or
// newer; Debian 12 has 15), reached through libpq with a pool of
// connections, upgraded by numbered migrations on open under a lock so
// that replicas starting together migrate once. docs/storage.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace hoist::store {

// Every migration of the PostgreSQL schema, in order (numbered on their
// own, not as SQLite's). Never edit one that has shipped: add the next.
const std::vector<std::string_view>& postgres_migrations();

struct PostgresOptions {
  // A libpq URL or keywords; several hosts with
  // target_session_attrs=read-write follow a failover. Never a password.
  std::string conninfo;
  // The password (read from a file or the environment by the caller), or
  // empty for libpq's own (PGPASSWORD, ~/.pgpass, a client certificate).
  std::string password;
  // Connections kept open at most; a caller waits for a free one up to
  // round_trip_timeout.
  std::size_t pool_size = 8;
  std::chrono::milliseconds round_trip_timeout{30000};
  int connect_timeout_s = 10;
  std::string application_name = "hoistd";
  // Stop after this many migrations (tests of upgrades); -1 applies all.
  int migrate_to = -1;
  // As SqliteOptions::on_migrated.
  std::function<void(int from, int to)> on_migrated;
};

// Connects, checks the server, and applies the pending migrations (one
// replica at a time, under an advisory lock). Unavailable when the
// database cannot be reached; Conflict when its schema is newer than this
// build knows; InvalidArgument for a conninfo that does not parse or holds
// a password.
Result<std::unique_ptr<Store>> open_postgres_store(const PostgresOptions& options);

}  // namespace hoist::store
