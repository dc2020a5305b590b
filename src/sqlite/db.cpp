#include "sqlite/db.h"

#include <sqlite3.h>

#include <fmt/format.h>

#include <exception>

namespace hoist::sqlite {

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    give_back();
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
    lent_ = std::exchange(other.lent_, nullptr);
  }
  return *this;
}

void Stmt::give_back() noexcept {
  if (stmt_ == nullptr) return;
  if (lent_ == nullptr) {
    sqlite3_finalize(stmt_);
  } else {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);  // keep no copy of a bound credential between uses
    *lent_ = false;
  }
  stmt_ = nullptr;
}

void Stmt::bind_text(int i, std::string_view v) {
  sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}
void Stmt::bind_blob(int i, std::string_view v) {
  sqlite3_bind_blob64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT);
}
void Stmt::bind_int(int i, std::int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
}
void Stmt::bind_null(int i) {
  sqlite3_bind_null(stmt_, i);
}
void Stmt::bind_opt_int(int i, const std::optional<std::int64_t>& v) {
  if (v) {
    bind_int(i, *v);
  } else {
    bind_null(i);
  }
}
void Stmt::bind_opt_time(int i, const std::optional<TimePoint>& t) {
  if (t) {
    bind_time(i, *t);
  } else {
    bind_null(i);
  }
}

Result<bool> Stmt::step(std::string_view what) {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->error(what);
}

Status Stmt::run(std::string_view what) {
  auto row = step(what);
  if (!row.ok()) return row.error();
  if (*row) return internal_error(fmt::format("{}: the statement returned a row (this is a bug)", what));
  return {};
}

std::int64_t Stmt::int_at(int i) const {
  return sqlite3_column_int64(stmt_, i);
}
std::optional<std::int64_t> Stmt::opt_int_at(int i) const {
  if (is_null(i)) return std::nullopt;
  return int_at(i);
}
std::optional<TimePoint> Stmt::opt_time_at(int i) const {
  if (is_null(i)) return std::nullopt;
  return time_at(i);
}
std::string Stmt::text_at(int i) const {
  const auto* p = sqlite3_column_text(stmt_, i);
  if (p == nullptr) return {};
  return {reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i))};
}
std::string Stmt::blob_at(int i) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, i));
  if (p == nullptr) return {};
  return {p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i))};
}
bool Stmt::is_null(int i) const {
  return sqlite3_column_type(stmt_, i) == SQLITE_NULL;
}

int Stmt::type_at(int i) const {
  return sqlite3_column_type(stmt_, i);
}

void Db::StmtFinalize::operator()(sqlite3_stmt* s) const {
  sqlite3_finalize(s);
}

Db::~Db() {
  // Statements first: one left over would keep the connection a zombie.
  cache_.clear();
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<Db>> Db::open(const std::string& path, const Options& options) {
  sqlite3* raw = nullptr;
  int flags =
      (options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW;
  if (options.create && !options.read_only) flags |= SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = raw != nullptr ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close_v2(raw);
    return unavailable(fmt::format("cannot open {} {}: {}", options.noun, path, message));
  }
  std::unique_ptr<Db> db(new Db(raw, path, options));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  // Until the file is known to be good, every error names it.
  const std::string name = fmt::format("{} {}", options.noun, path);
  for (const std::string_view pragma : {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
                                        "PRAGMA foreign_keys = ON", "PRAGMA secure_delete = ON"}) {
    if (options.read_only && pragma == "PRAGMA journal_mode = WAL") continue;  // the writer set it
    if (!options.secure_delete && pragma == "PRAGMA secure_delete = ON") continue;
    const std::string text(pragma);
    if (sqlite3_exec(raw, text.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
      return db->error_naming(name, pragma);
    }
  }
  // journal_mode answers with the mode it got; anything but wal (a file
  // that SQLite could not switch) is refused rather than run without it.
  auto mode = db->prepare("PRAGMA journal_mode");
  if (!mode.ok()) return mode.error();
  auto row = mode->step("read the journal mode");
  if (!row.ok()) return row.error();
  if (!*row || mode->text_at(0) != "wal") {
    return unavailable(fmt::format("{} could not be put in WAL mode", name));
  }
  return db;
}

Error Db::error(std::string_view what) const {
  return error_naming(options_.errors_name_file ? fmt::format("{} {}", options_.noun, path_) : options_.noun, what);
}

Error Db::error_naming(std::string_view name, std::string_view what) const {
  const int code = sqlite3_extended_errcode(db_);
  const std::string message = fmt::format("{}: {}: {}", name, what, sqlite3_errmsg(db_));
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return unavailable(message + " (busy; retry)");
    case SQLITE_CONSTRAINT: return conflict(message);
    case SQLITE_FULL: return unavailable(message + " (the disk is full: free space)");
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY: return unavailable(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return internal_error(options_.damaged_advice.empty() ? message + " (the file is damaged)"
                                                            : fmt::format("{} ({})", message, options_.damaged_advice));
    default: return internal_error(message);
  }
}

bool Db::foreign_key_failed() const {
  return sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_FOREIGNKEY;
}

std::int64_t Db::changes() const {
  return sqlite3_changes64(db_);
}

std::int64_t Db::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}

Status Db::exec(std::string_view sql, std::string_view what) {
  const std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) return error(what);
  return {};
}

Result<Stmt> Db::prepare(std::string_view sql) {
  const auto it = cache_.find(sql);
  if (it != cache_.end() && !it->second.lent) {
    it->second.lent = true;
    return Stmt(*this, it->second.stmt.get(), &it->second.lent);
  }
  // A text already lent out gets a one-off copy, as does any text once the
  // cache is full.
  const bool cache = it == cache_.end() && cache_.size() < options_.statement_cache_size;
  sqlite3_stmt* raw = nullptr;
  // prepare_v3 (like v2) prepares again by itself after a schema change.
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), cache ? SQLITE_PREPARE_PERSISTENT : 0, &raw,
                         nullptr) != SQLITE_OK) {
    return error("prepare");
  }
  if (raw == nullptr) {
    return internal_error(fmt::format("{}: prepare: no statement in the SQL text (this is a bug)", options_.noun));
  }
  if (!cache) return Stmt(*this, raw, nullptr);
  const auto added = cache_.emplace(std::string(sql), Cached{{raw, StmtFinalize{}}, true}).first;
  return Stmt(*this, added->second.stmt.get(), &added->second.lent);
}

Status Db::set_synchronous(bool full) {
  if (full == synchronous_full_) return {};
  if (auto st = exec(full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL", "set synchronous"); !st.ok()) {
    return st;
  }
  synchronous_full_ = full;
  return {};
}

Status Db::write(const std::function<Status()>& fn) {
  // A durable write never begins on a connection left unsynced.
  if (auto st = set_synchronous(true); !st.ok()) return st;
  return write_body(fn);
}

Status Db::write_unsynced(const std::function<Status()>& fn) {
  if (auto st = set_synchronous(false); !st.ok()) return st;
  Status result = write_body(fn);
  // Put back at once; should that fail, the next write() tries again
  // before it begins.
  (void)set_synchronous(true);
  return result;
}

Status Db::write_body(const std::function<Status()>& fn) {
  if (auto st = exec("BEGIN IMMEDIATE", "begin a transaction"); !st.ok()) return st;
  Status result;
  try {
    result = fn();
  } catch (const std::exception& e) {
    result = internal_error(fmt::format("{}: write failed: {} (this is a bug)", options_.noun, e.what()));
  } catch (...) {
    result = internal_error(fmt::format("{}: write failed with an unknown exception (this is a bug)", options_.noun));
  }
  if (result.ok()) result = exec("COMMIT", "commit");
  if (!result.ok() && sqlite3_get_autocommit(db_) == 0) (void)exec("ROLLBACK", "roll back");
  return result;
}

}  // namespace hoist::sqlite
