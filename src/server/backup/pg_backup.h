// hoistd backup, check-backup and restore on PostgreSQL (docs/backup.md,
// "PostgreSQL"): the database through Debian's pg_dump and pg_restore (the
// server's major version), the data directory's shared keys as for SQLite
// (backup.h does the files and the manifest; this file gives it the dump).
//
// Backup: hoistd opens a REPEATABLE READ READ ONLY transaction, exports
// its snapshot and runs `pg_dump --snapshot` on it, so the dump is the
// database as that transaction sees it; in the same transaction it reads
// the schema version and verifies the audit chain. The dump then counts
// only once `pg_restore --list` reads it and the chain read back out of
// the dump (pg_restore's COPY text of audit_events) verifies to the very
// head the transaction saw. Writers go on meanwhile: a snapshot blocks
// nobody.
//
// MUST: the password reaches pg_dump and pg_restore only through a
// PGPASSFILE in a 0700 directory of mkdtemp's, 0600, removed after; never
// argv (world-readable in /proc) or the environment. The children get an
// environment built whole (pg_tools.h), no shell, execve by absolute path.
// MUST: the dump file is created 0600 by hoistd before pg_dump writes it
// (its standard output), never by pg_dump under the caller's umask.
// MUST: a restore writes only into a database that holds no table: one
// with Hoist's tables (a live lease there is a running replica) is refused
// before anything is written, and pg_restore runs in one transaction that
// stops at the first error.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "server/backup/backup.h"
#include "store/pg_store.h"

namespace hoist::backup {

// One child process: argv[0] is the absolute path execve runs, `env` its
// whole environment. Standard input is `stdin_fd` (>= 0) or /dev/null; standard output goes to
// `stdout_fd` when given (>= 0), else is captured (up to `max_output`);
// standard error is captured (its first 64 KiB).
struct ChildSpec {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  int stdin_fd = -1;
  int stdout_fd = -1;
  std::size_t max_output = std::size_t{256} << 20;
  std::chrono::milliseconds timeout{std::chrono::hours(6)};
};

struct ChildResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

// Runs children: the real one forks and execs, tests may record.
class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // Unavailable when the child cannot be started, outgrows max_output or
  // runs past its timeout (it is then killed).
  virtual Result<ChildResult> run(const ChildSpec& spec) = 0;
};

std::unique_ptr<ProcessRunner> real_process_runner();

struct PgBackupOptions {
  store::PostgresOptions database;  // conninfo (no password) and password
  // Where Debian's postgresql-client-N lives (pg_tools::kDebianRoot).
  std::string tools_root = "/usr/lib/postgresql";
  // Told which pg_dump/pg_restore ran, and how long each step took.
  std::function<void(const std::string&)> progress;
};

// The BackupOptions::dump_database of a PostgreSQL backup: the snapshot, pg_dump
// into `name` of `dirfd`, and the checks above. `runner` outlives it.
std::function<Result<DatabaseFacts>(int dirfd, const std::string& name)> pg_dumper(const PgBackupOptions& options,
                                                                                   ProcessRunner& runner);

// The CheckOptions::inspect_dump: pg_restore --list, then the audit chain
// and schema version read from the dump's COPY text (no database needed).
std::function<Result<DatabaseFacts>(const std::string& dump_path)> pg_inspector(const std::string& tools_root,
                                                                                ProcessRunner& runner);

// The CheckOptions::restore_dump: refuses a database with tables (saying
// when a live lease shows a running hoistd), pg_restore --exit-on-error
// --single-transaction --no-owner, opens the store (which migrates an older
// schema as hoistd would), verifies the chain to the manifest's head, and
// moves the push queue's counter ahead by 2^32. A failure after pg_restore
// drops the tables it made again.
std::function<Status(const Manifest& m, const std::string& dump_path)> pg_restorer(const PgBackupOptions& options,
                                                                                   ProcessRunner& runner);

}  // namespace hoist::backup
