// One PostgreSQL connection as hoistd's store (src/store/pg_*.cpp) uses
// it, over libpq's C API: a connection that owns its PGconn, results that
// own their PGresult, values bound as parameters (never spliced into SQL),
// statements prepared once per connection and cached by SQL text, a
// deadline on every round trip (a database that stops answering fails the
// call, it never hangs its caller), LISTEN notifications, and errors mapped
// onto Hoist's categories, naming the database and what was being done.
// Not thread-safe: its owner (the store's pool) lends it to one caller at
// a time.
//
// MUST: no SQL text embeds a value. Values are bound parameters; the texts
// are a finite set, which is what lets the cache key on them.
// MUST: no password in the connection string (config files and process
// listings are read by others); it comes from ConnOptions::password, read
// from a file or the environment by the caller, or from libpq's own
// ~/.pgpass.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/duration.h"
#include "core/result.h"

struct pg_conn;
struct pg_result;

namespace hoist::pg {

// Bytes bound as bytea (paths and arguments are bytes, not UTF-8 text).
struct Blob {
  std::string_view bytes;
};

// A TEXT[] literal of `values`, to bind as one parameter ($1::TEXT[]):
// every element in double quotes with '"' and '\\' escaped, so no value can
// end an element or the array early (a NUL is refused when it is sent).
std::string text_array(const std::vector<std::string>& values);

// The values of one statement's parameters $1, $2, ..., sent as text
// (bytea as binary); NULL for an empty optional.
class Params {
 public:
  void add_text(std::string_view v);
  void add_blob(std::string_view v);
  void add_int(std::int64_t v);
  void add_null();
  // Whether a text value holds NUL: libpq sends text values as C strings,
  // so one would be cut there (a filter on "x\0y" would match "x").
  [[nodiscard]] bool text_holds_nul() const;

  void add(std::string_view v) { add_text(v); }
  void add(const std::string& v) { add_text(v); }
  void add(const char* v) { add_text(v); }
  void add(std::int64_t v) { add_int(v); }
  void add(int v) { add_int(v); }
  void add(std::uint32_t v) { add_int(v); }
  void add(bool v) { add_int(v ? 1 : 0); }
  void add(TimePoint t) { add_int(t.time_since_epoch().count()); }
  void add(Blob b) { add_blob(b.bytes); }
  void add(std::nullopt_t) { add_null(); }
  template <class T>
  void add(const std::optional<T>& v) {
    if (v) {
      add(*v);
    } else {
      add_null();
    }
  }

  [[nodiscard]] int size() const { return static_cast<int>(values_.size()); }
  // For libpq: pointers into this object, valid while it lives unchanged.
  [[nodiscard]] std::vector<const char*> values() const;
  [[nodiscard]] std::vector<int> lengths() const;
  [[nodiscard]] std::vector<int> formats() const;

 private:
  std::vector<std::string> values_;
  std::vector<bool> null_;
  std::vector<int> formats_;
};

template <class... Args>
Params params_of(const Args&... args) {
  Params p;
  (p.add(args), ...);
  return p;
}

// One row of a result, read by column number (from 0). Integers, booleans
// ("t"/"f") and bytea are decoded from libpq's text format.
class Row {
 public:
  Row(const pg_result* result, int row) : result_(result), row_(row) {}
  [[nodiscard]] bool is_null(int col) const;
  [[nodiscard]] std::int64_t int_at(int col) const;
  [[nodiscard]] std::optional<std::int64_t> opt_int_at(int col) const;
  [[nodiscard]] std::string text_at(int col) const;
  [[nodiscard]] std::optional<std::string> opt_text_at(int col) const;
  [[nodiscard]] std::string blob_at(int col) const;
  [[nodiscard]] TimePoint time_at(int col) const { return TimePoint{Seconds{int_at(col)}}; }
  [[nodiscard]] std::optional<TimePoint> opt_time_at(int col) const;

 private:
  const pg_result* result_;
  int row_;
};

// A statement's result; owns its PGresult.
class Rows {
 public:
  Rows() = default;
  explicit Rows(pg_result* result);
  Rows(Rows&& other) noexcept;
  Rows& operator=(Rows&& other) noexcept;
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;
  ~Rows();

  [[nodiscard]] int size() const;
  [[nodiscard]] bool empty() const { return size() == 0; }
  [[nodiscard]] Row row(int i) const { return {result_, i}; }
  // Rows an INSERT, UPDATE or DELETE changed.
  [[nodiscard]] std::int64_t affected() const;

 private:
  pg_result* result_ = nullptr;
};

struct ConnOptions {
  // A libpq URL (postgresql://host:port/db?sslmode=verify-full) or
  // key=value keywords; several hosts are allowed (libpq's failover).
  std::string conninfo;
  // The password, when the caller read one (a file, the environment).
  std::string password;
  // How errors name the database.
  std::string noun = "database";
  std::string application_name = "hoistd";
  // Defaults, used unless the conninfo sets its own.
  int connect_timeout_s = 10;
  // The longest one round trip (a statement, a commit) may take before the
  // connection is given up as broken and the call fails with Unavailable.
  std::chrono::milliseconds round_trip_timeout{30000};
};

// Checks a conninfo without connecting: it parses, and it holds no
// password. InvalidArgument naming what is wrong.
Status check_conninfo(std::string_view conninfo);

struct Notification {
  std::string channel;
  std::string payload;
};

class Conn {
 public:
  // Connects and checks the session: UTF8 client encoding, UTC, integer
  // timestamps. Unavailable when the server cannot be reached (naming the
  // hosts, never the password).
  static Result<std::unique_ptr<Conn>> open(const ConnOptions& options);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Runs SQL without parameters, possibly several statements (migrations,
  // BEGIN, COMMIT, LISTEN).
  Status exec(std::string_view sql, std::string_view what);
  // The same, returning the rows of the last statement (text columns, as
  // query's): several statements in one round trip.
  Result<Rows> exec_rows(std::string_view sql, std::string_view what);
  // Prepares `sql` on first use on this connection, then runs it with
  // `params`.
  Result<Rows> query(std::string_view sql, std::string_view what, const Params& params);
  template <class... Args>
  Result<Rows> query(std::string_view sql, std::string_view what, const Args&... args) {
    return query(sql, what, params_of(args...));
  }
  // Runs a statement that returns no rows; returns how many rows it changed.
  template <class... Args>
  Result<std::int64_t> execute(std::string_view sql, std::string_view what, const Args&... args) {
    auto rows = query(sql, what, params_of(args...));
    if (!rows.ok()) return rows.error();
    return rows->affected();
  }

  // False once the connection broke (a lost server, a round trip past its
  // deadline): the owner drops it and opens another.
  [[nodiscard]] bool usable() const;
  // Whether a transaction is open (or failed and not yet rolled back).
  [[nodiscard]] bool in_transaction() const;
  // The SQLSTATE of the last failed statement ("" when none).
  [[nodiscard]] const std::string& last_sqlstate() const { return last_sqlstate_; }
  [[nodiscard]] bool foreign_key_failed() const { return last_sqlstate_ == "23503"; }
  [[nodiscard]] bool unique_failed() const { return last_sqlstate_ == "23505"; }
  // host:port (or the socket directory) this connection reached.
  [[nodiscard]] std::string server() const;
  [[nodiscard]] const std::string& noun() const { return options_.noun; }

  // LISTEN: the socket to wait on, and the notifications received so far
  // (reads what is waiting without blocking). Unavailable when the
  // connection broke.
  [[nodiscard]] int socket() const;
  Result<std::vector<Notification>> notifications();

 private:
  Conn(pg_conn* conn, ConnOptions options);
  // Waits for the result of the command sent, until the deadline; the last
  // result of the command, or an error (the connection is then unusable if
  // the deadline passed or the server went away).
  Result<Rows> wait_result(std::string_view what);
  Error error_from(const pg_result* result, std::string_view what);
  Error broken(std::string_view what, std::string_view why);

  pg_conn* conn_;
  ConnOptions options_;
  bool broken_ = false;
  std::string last_sqlstate_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
};

}  // namespace hoist::pg
