// One SQLite connection as hoistd's store (src/store/) and hoist-agent's
// state (src/agent/state/) use it: opened with durable settings, prepared
// statements cached by SQL text and lent out through a handle that resets
// them on every path, write transactions that take the lock up front, and
// errors mapped onto Hoist's categories, naming the database and saying
// what to do. Not thread-safe: its owner serialises calls (a mutex).
//
// MUST: no SQL text embeds a value. Values are bound parameters; the texts
// are a finite set, which is what lets the cache key on them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "core/duration.h"
#include "core/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace hoist::sqlite {

class Db;

// A statement lent by Db::prepare. Giving it back (destruction, or moving
// another into it) resets it and clears its bindings, on every path out of
// its user (early returns, errors, exceptions): a statement left active
// would hold its read transaction open and block WAL checkpoints, and a
// bound credential would stay in memory. A cached statement goes back to
// the cache; a one-off one is finalized.
class Stmt {
 public:
  Stmt(Db& db, sqlite3_stmt* stmt, bool* lent) : db_(&db), stmt_(stmt), lent_(lent) {}
  Stmt(Stmt&& other) noexcept
      : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)), lent_(std::exchange(other.lent_, nullptr)) {}
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { give_back(); }

  // Parameters count from 1. Text and blobs are copied. A TimePoint is
  // stored as Unix seconds.
  void bind_text(int i, std::string_view v);
  void bind_blob(int i, std::string_view v);
  void bind_int(int i, std::int64_t v);
  void bind_null(int i);
  void bind_opt_int(int i, const std::optional<std::int64_t>& v);
  void bind_time(int i, TimePoint t) { bind_int(i, t.time_since_epoch().count()); }
  void bind_opt_time(int i, const std::optional<TimePoint>& t);
  // Binds args to parameters 1, 2, ... by type (text, integer, time).
  template <class... Args>
  void bind_all(const Args&... args) {
    int i = 1;
    (bind(i++, args), ...);
  }

  // True for a row, false when done; an error names `what`.
  Result<bool> step(std::string_view what);
  // Steps a statement that returns no rows.
  Status run(std::string_view what);

  // Columns count from 0.
  [[nodiscard]] std::int64_t int_at(int i) const;
  [[nodiscard]] std::optional<std::int64_t> opt_int_at(int i) const;
  [[nodiscard]] std::string text_at(int i) const;
  [[nodiscard]] std::string blob_at(int i) const;
  [[nodiscard]] bool is_null(int i) const;
  // The storage class of the value (sqlite3.h's SQLITE_INTEGER, SQLITE_FLOAT,
  // SQLITE_TEXT, SQLITE_BLOB or SQLITE_NULL): columns without STRICT take
  // any, whatever their declared type.
  [[nodiscard]] int type_at(int i) const;
  [[nodiscard]] TimePoint time_at(int i) const { return TimePoint{Seconds{int_at(i)}}; }
  [[nodiscard]] std::optional<TimePoint> opt_time_at(int i) const;

 private:
  void bind(int i, std::string_view v) { bind_text(i, v); }
  void bind(int i, std::int64_t v) { bind_int(i, v); }
  void bind(int i, TimePoint t) { bind_time(i, t); }
  void give_back() noexcept;

  Db* db_;
  sqlite3_stmt* stmt_;
  bool* lent_;  // the cache entry's "in use" flag; nullptr for a one-off statement
};

struct Options {
  // How errors name the database ("database", "agent database").
  std::string noun = "database";
  // Whether every error names the file too (open errors always do).
  bool errors_name_file = false;
  // Create the file when missing; otherwise the caller created and checked it.
  bool create = false;
  // Every write fails; the journal mode is left as the writer set it.
  bool read_only = false;
  int busy_timeout_ms = 5000;
  // Deleted content is overwritten, not left in free pages (old credentials).
  bool secure_delete = false;
  // How many prepared statements to keep, by SQL text; past the cap a text
  // is prepared for each use. 0 keeps none.
  std::size_t statement_cache_size = 256;
  // What to do about a damaged file (SQLITE_CORRUPT, SQLITE_NOTADB),
  // appended to the error.
  std::string damaged_advice;
};

class Db {
 public:
  // Opens `path` with SQLITE_OPEN_NOFOLLOW (a symlink planted where the
  // database should be is refused), extended result codes, the busy
  // timeout, and journal_mode=WAL (checked: a file SQLite cannot switch is
  // refused), synchronous=FULL (in WAL mode a commit fsyncs the log, so it
  // survives a power cut, not only a crash), foreign_keys=ON and, when
  // asked, secure_delete=ON. Unavailable when the file cannot be opened;
  // errors name `path`.
  static Result<std::unique_ptr<Db>> open(const std::string& path, const Options& options);

  // Every statement is finalized before the connection closes: one left
  // over would keep the connection open as a zombie (sqlite3_close_v2).
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs SQL text without parameters (pragmas, migrations).
  Status exec(std::string_view sql, std::string_view what);
  // The statement for `sql`, from the cache unless it is already lent out
  // (one statement used inside another's loop gets a one-off copy).
  Result<Stmt> prepare(std::string_view sql);
  // Prepares, binds (Stmt::bind_all) and runs one statement that returns no
  // rows; returns how many rows it changed.
  template <class... Args>
  Result<std::int64_t> execute(std::string_view sql, std::string_view what, const Args&... args) {
    auto stmt = prepare(sql);
    if (!stmt.ok()) return stmt.error();
    stmt->bind_all(args...);
    if (auto st = stmt->run(what); !st.ok()) return st.error();
    return changes();
  }
  // Runs fn in BEGIN IMMEDIATE ... COMMIT: IMMEDIATE takes the write lock
  // before anything is read, so two processes sharing the file serialise
  // instead of deadlocking on an upgrade. Rolls back when fn fails or
  // throws, or the commit fails.
  Status write(const std::function<Status()>& fn);
  // The same, but its commit does not wait for the log to reach the disk
  // (synchronous=NORMAL for this one transaction): it survives a crash of
  // the process, and a power cut may lose it (never corrupts the file). The
  // next durable commit syncs it along. Only for what is safe to lose,
  // such as a record that is redone when missing. Every other write is
  // back to synchronous=FULL before it begins.
  Status write_unsynced(const std::function<Status()>& fn);

  // The connection's last error as an Error naming the database and `what`:
  // busy or locked, a full disk, I/O and permission errors are Unavailable;
  // a constraint is Conflict; a damaged file and the rest are Internal.
  [[nodiscard]] Error error(std::string_view what) const;
  // Whether the last error was a foreign key constraint (a missing owner).
  [[nodiscard]] bool foreign_key_failed() const;
  [[nodiscard]] const std::string& path() const { return path_; }
  // Rows changed by the last INSERT, UPDATE or DELETE.
  [[nodiscard]] std::int64_t changes() const;
  // The rowid of the last INSERT.
  [[nodiscard]] std::int64_t last_insert_rowid() const;
  // Drops cached statements (after migrations).
  void clear_cache() { cache_.clear(); }

 private:
  Db(sqlite3* db, std::string path, Options options) : db_(db), path_(std::move(path)), options_(std::move(options)) {}
  [[nodiscard]] Error error_naming(std::string_view name, std::string_view what) const;
  Status set_synchronous(bool full);
  Status write_body(const std::function<Status()>& fn);

  struct StmtFinalize {
    void operator()(sqlite3_stmt* s) const;
  };
  struct Cached {
    std::unique_ptr<sqlite3_stmt, StmtFinalize> stmt;
    bool lent = false;
  };
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view sql) const { return std::hash<std::string_view>{}(sql); }
  };

  sqlite3* db_;
  std::string path_;
  Options options_;
  bool synchronous_full_ = true;  // open() sets synchronous=FULL
  std::unordered_map<std::string, Cached, SqlHash, std::equal_to<>> cache_;
};

}  // namespace hoist::sqlite
