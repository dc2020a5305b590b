// hoistd backup, check-backup and restore (docs/backup.md): a consistent
// copy of the data directory while hoistd runs, the database through
// SQLite's online backup API in one read transaction, the other files
// (TLS CA, admin-code master key, notification secrets key) with their
// modes and owners, and a manifest written last.
//
// MUST: the backup directory is created 0700 (or is an empty directory of
// the caller's, made 0700); a non-empty one is never written into.
// MUST: nothing of the data directory is followed out of it: symlinks,
// FIFOs, sockets, devices and files with other hard links are skipped
// (listed in the manifest), never opened; every file is opened relative to
// its checked directory with O_NOFOLLOW and checked again after opening.
// MUST: a backup that fails leaves no manifest (and removes what it
// wrote): a directory without manifest.json is no backup.
// MUST: a restore checks every file against the manifest (size, SHA-256),
// the database's integrity and its audit chain before it writes anything,
// writes into a new directory beside the target and renames it into place
// at the end, so a failed restore leaves no data directory that hoistd
// would start on (and make new keys in).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "core/result.h"
#include "server/backup/manifest.h"

namespace hoist::backup {

struct Source {
  std::string data_dir;
  std::string database;  // the database file; "" = <data_dir>/hoist.db
  bool own_tls = true;   // hoistd keeps its own CA in <data_dir>/tls (no [tls] cert_file)
};

struct BackupOptions {
  std::string hoistd_version;
  int known_schema_version = 0;  // the newest this hoistd knows
  std::chrono::system_clock::time_point now;
  // How long to retry while the database is busy (a writer holding it).
  std::chrono::milliseconds busy_timeout{30000};
  std::function<void(const std::string&)> warn;  // a file skipped, and why
  // PostgreSQL (pg_backup.h): writes the database's dump as the new file
  // `name` of the directory `dirfd` and returns what it holds, checked.
  // Set, the backup's database is that dump (backend "postgres") and
  // Source::database is unused; the data directory's files are copied as
  // for SQLite.
  std::function<Result<DatabaseFacts>(int dirfd, const std::string& name)> dump_database;
};

// Takes a backup of `source` into `dir` (see the invariants above) and
// returns its manifest. PermissionDenied when the caller is neither root
// nor the data directory's owner, or cannot read something; NotFound when
// the data directory, the database or a file a restore needs is missing;
// Conflict when `dir` exists and is not an empty directory of the caller's;
// Unavailable for I/O errors (a full disk says so).
Result<Manifest> take_backup(const Source& source, const std::string& dir, const BackupOptions& options);

// Checks a backup without changing it: the manifest, every file (present,
// size, SHA-256, no file it does not list), the directory's mode, and the
// database (PRAGMA integrity_check, schema version at most
// `known_schema_version`, the audit chain verifying to the head the
// manifest names). InvalidArgument, saying what is wrong, when it fails.
Result<Manifest> check_backup(const std::string& dir, int known_schema_version);

// The same for both backends: a PostgreSQL backup's dump is read by
// `inspect_dump` (pg_backup.h; unset: refused) instead of SQLite.
struct CheckOptions {
  int known_sqlite_schema_version = 0;
  int known_postgres_schema_version = 0;
  std::function<Result<DatabaseFacts>(const std::string& dump_path)> inspect_dump;
  // For restore_backup, PostgreSQL: restores the backup's checked dump
  // into the database and moves the push queue's counter ahead; called
  // after the files are written beside the target and before they are
  // renamed into place. Unset, a PostgreSQL backup is refused (and set, a
  // SQLite one).
  std::function<Status(const Manifest& m, const std::string& dump_path)> restore_dump;
};
Result<Manifest> check_backup(const std::string& dir, const CheckOptions& options);

struct RestoreTarget {
  std::string data_dir;  // must not exist, or be an empty directory
  // Owner of everything restored when run as root; nullopt keeps the
  // owners the manifest recorded.
  std::optional<std::pair<uid_t, gid_t>> owner;
};

// check_backup, then the files and the database into target.data_dir with
// their modes. Conflict when the target exists and is not empty.
Result<Manifest> restore_backup(const std::string& dir, const RestoreTarget& target, int known_schema_version);
Result<Manifest> restore_backup(const std::string& dir, const RestoreTarget& target, const CheckOptions& options);

// What a database file holds, read without changing it (SQLite's
// immutable mode): integrity_check must say ok and the audit chain must
// verify. InvalidArgument otherwise.
Result<DatabaseFacts> inspect_database(const std::string& path);

}  // namespace hoist::backup
