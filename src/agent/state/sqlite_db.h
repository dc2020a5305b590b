// A small wrapper over one SQLite connection for the agent's state: cached
// prepared statements lent out through a handle that resets them on every
// path, write transactions, and errors that name the file and say what to do.
// Not thread-safe: its owner serialises calls (SqliteAgentState's mutex).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "core/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace hoist::agent::sqlite {

class Db;

// A statement lent by Db::prepare; giving it back (destruction) resets it
// and clears its bindings, so none stays active holding a read transaction
// that would block WAL checkpoints.
class Stmt {
 public:
  Stmt(Db& db, sqlite3_stmt* stmt, bool* lent) : db_(&db), stmt_(stmt), lent_(lent) {}
  Stmt(Stmt&& other) noexcept
      : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)), lent_(std::exchange(other.lent_, nullptr)) {}
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  // Parameters count from 1. Text and blobs are copied.
  void bind_text(int i, std::string_view v);
  void bind_blob(int i, std::string_view v);
  void bind_int(int i, std::int64_t v);
  void bind_null(int i);
  void bind_opt_int(int i, const std::optional<std::int64_t>& v);

  // True for a row, false when done; an error names `what`.
  Result<bool> step(std::string_view what);
  // Steps a statement that returns no rows.
  Status run(std::string_view what);

  [[nodiscard]] std::int64_t int_at(int i) const;
  [[nodiscard]] std::optional<std::int64_t> opt_int_at(int i) const;
  [[nodiscard]] std::string text_at(int i) const;
  [[nodiscard]] std::string blob_at(int i) const;
  [[nodiscard]] bool is_null(int i) const;

 private:
  Db* db_;
  sqlite3_stmt* stmt_;
  bool* lent_;  // the cache entry's "in use" flag; nullptr for a one-off statement
};

class Db {
 public:
  // Opens `path` (which must exist: the caller created and checked it) with
  // SQLITE_OPEN_NOFOLLOW, WAL, synchronous=FULL, foreign keys and a busy
  // timeout. Errors name `path`.
  static Result<std::unique_ptr<Db>> open(const std::string& path, int busy_timeout_ms, bool read_only = false);

  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs SQL text without parameters (pragmas, migrations).
  Status exec(std::string_view sql, std::string_view what);
  // The statement for `sql`, from the cache unless it is already lent out.
  // No SQL text may embed a value: the texts are a fixed set of constants.
  Result<Stmt> prepare(std::string_view sql);
  // Runs fn in BEGIN IMMEDIATE ... COMMIT; rolls back when fn fails or
  // throws, or the commit fails.
  Status write(const std::function<Status()>& fn);

  // The connection's last error, as an Error naming the file and `what`.
  [[nodiscard]] Error error(std::string_view what) const;
  [[nodiscard]] const std::string& path() const { return path_; }
  // Rows changed by the last INSERT, UPDATE or DELETE.
  [[nodiscard]] std::int64_t changes() const;
  [[nodiscard]] sqlite3* handle() const { return db_; }
  // Drops cached statements (after migrations).
  void clear_cache() { cache_.clear(); }

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

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
  std::unordered_map<std::string, Cached, SqlHash, std::equal_to<>> cache_;
};

}  // namespace hoist::agent::sqlite
