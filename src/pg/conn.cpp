#include "pg/conn.h"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

namespace hoist::pg {
namespace {

void ignore_notice(void* /*arg*/, const char* /*message*/) {}

// libpq's messages end with a newline and may span lines.
std::string one_line(const char* text) {
  std::string out = text != nullptr ? text : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Hoist's category for a SQLSTATE: what a caller may retry (the database
// is away, restarting, read-only or out of resources, or the statement lost
// a race) is Unavailable; a constraint is Conflict; bad data is
// InvalidArgument; the rest is a bug or damage.
ErrorCode category_of(std::string_view state) {
  if (starts_with(state, "08") || starts_with(state, "53") || starts_with(state, "57P") || starts_with(state, "58") ||
      state == "40001" || state == "40P01" || state == "25006" || state == "55P03" || state == "57014") {
    return ErrorCode::kUnavailable;
  }
  if (starts_with(state, "23")) return ErrorCode::kConflict;
  if (starts_with(state, "22")) return ErrorCode::kInvalidArgument;
  return ErrorCode::kInternal;
}

}  // namespace

void Params::add_text(std::string_view v) {
  values_.emplace_back(v);
  null_.push_back(false);
  formats_.push_back(0);
}

void Params::add_blob(std::string_view v) {
  values_.emplace_back(v);
  null_.push_back(false);
  formats_.push_back(1);
}

bool Params::text_holds_nul() const {
  for (std::size_t i = 0; i < values_.size(); ++i) {
    if (!null_[i] && formats_[i] == 0 && values_[i].find('\0') != std::string::npos) return true;
  }
  return false;
}

void Params::add_int(std::int64_t v) {
  add_text(std::to_string(v));
}

void Params::add_null() {
  values_.emplace_back();
  null_.push_back(true);
  formats_.push_back(0);
}

std::vector<const char*> Params::values() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (std::size_t i = 0; i < values_.size(); ++i) out.push_back(null_[i] ? nullptr : values_[i].data());
  return out;
}

std::vector<int> Params::lengths() const {
  std::vector<int> out;
  out.reserve(values_.size());
  for (const auto& v : values_) out.push_back(static_cast<int>(v.size()));
  return out;
}

std::vector<int> Params::formats() const {
  return formats_;
}

bool Row::is_null(int col) const {
  return PQgetisnull(result_, row_, col) != 0;
}

std::int64_t Row::int_at(int col) const {
  const char* v = PQgetvalue(result_, row_, col);
  const int len = PQgetlength(result_, row_, col);
  if (len == 1 && (v[0] == 't' || v[0] == 'f')) return v[0] == 't' ? 1 : 0;
  std::int64_t out = 0;
  std::from_chars(v, v + len, out);
  return out;
}

std::optional<std::int64_t> Row::opt_int_at(int col) const {
  if (is_null(col)) return std::nullopt;
  return int_at(col);
}

std::string Row::text_at(int col) const {
  return {PQgetvalue(result_, row_, col), static_cast<std::size_t>(PQgetlength(result_, row_, col))};
}

std::optional<std::string> Row::opt_text_at(int col) const {
  if (is_null(col)) return std::nullopt;
  return text_at(col);
}

std::string Row::blob_at(int col) const {
  std::size_t len = 0;
  unsigned char* bytes = PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(result_, row_, col)), &len);
  if (bytes == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(bytes), len);
  PQfreemem(bytes);
  return out;
}

std::optional<TimePoint> Row::opt_time_at(int col) const {
  if (is_null(col)) return std::nullopt;
  return time_at(col);
}

Rows::Rows(pg_result* result) : result_(result) {}
Rows::Rows(Rows&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}
Rows& Rows::operator=(Rows&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}
Rows::~Rows() {
  if (result_ != nullptr) PQclear(result_);
}

int Rows::size() const {
  return result_ != nullptr ? PQntuples(result_) : 0;
}

std::int64_t Rows::affected() const {
  if (result_ == nullptr) return 0;
  const char* n = PQcmdTuples(result_);
  std::int64_t out = 0;
  std::from_chars(n, n + std::strlen(n), out);
  return out;
}

Status check_conninfo(std::string_view conninfo) {
  char* err = nullptr;
  const std::string text(conninfo);
  PQconninfoOption* options = PQconninfoParse(text.c_str(), &err);
  if (options == nullptr) {
    std::string why = err != nullptr ? one_line(err) : "out of memory";
    if (err != nullptr) PQfreemem(err);
    return invalid_argument(fmt::format("the database address does not parse: {}", why));
  }
  bool has_password = false;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    // sslpassword (a client key's passphrase) is as secret: hoistd logs
    // the address at its start (the journal, which group adm reads).
    const bool secret = std::strcmp(o->keyword, "password") == 0 || std::strcmp(o->keyword, "sslpassword") == 0;
    if (secret && o->val != nullptr && o->val[0] != '\0') has_password = true;
  }
  PQconninfoFree(options);
  if (has_password) {
    return invalid_argument(
        "the database address holds a password (password or sslpassword), which others could read in the config, the "
        "log or a process listing: put the password in a file named by [database] password_file, or in PGPASSWORD, "
        "or in ~/.pgpass; use a client key without a passphrase, readable only by hoistd's user");
  }
  return {};
}

Conn::Conn(pg_conn* conn, ConnOptions options) : conn_(conn), options_(std::move(options)) {}

Conn::~Conn() {
  PQfinish(conn_);
}

Result<std::unique_ptr<Conn>> Conn::open(const ConnOptions& options) {
  if (auto st = check_conninfo(options.conninfo); !st.ok()) return st.error();
  const std::string timeout = std::to_string(options.connect_timeout_s);
  // Defaults first, then the conninfo (which may override them), then
  // what the conninfo must not change.
  std::vector<const char*> keys = {"connect_timeout",     "application_name", "keepalives", "keepalives_idle",
                                   "keepalives_interval", "keepalives_count", "dbname",     "client_encoding"};
  std::vector<const char*> values = {
      timeout.c_str(), options.application_name.c_str(), "1", "10", "5", "3", options.conninfo.c_str(), "UTF8"};
  if (!options.password.empty()) {
    keys.push_back("password");
    values.push_back(options.password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  pg_conn* raw = PQconnectdbParams(keys.data(), values.data(), 1);
  if (raw == nullptr) return unavailable(fmt::format("{}: cannot connect: out of memory", options.noun));
  std::unique_ptr<Conn> conn(new Conn(raw, options));
  if (PQstatus(raw) != CONNECTION_OK) {
    return unavailable(fmt::format("{}: cannot connect: {}", options.noun, one_line(PQerrorMessage(raw))));
  }
  PQsetNoticeProcessor(raw, ignore_notice, nullptr);
  const char* integer_datetimes = PQparameterStatus(raw, "integer_datetimes");
  if (integer_datetimes == nullptr || std::strcmp(integer_datetimes, "on") != 0) {
    return unavailable(
        fmt::format("{}: the server at {} does not use integer timestamps", options.noun, conn->server()));
  }
  if (PQserverVersion(raw) < 130000) {
    return unavailable(fmt::format("{}: the server at {} is PostgreSQL {}; Hoist needs 13 or newer", options.noun,
                                   conn->server(), PQserverVersion(raw) / 10000));
  }
  // A client that vanishes inside a transaction without closing its
  // socket (a replica's host lost or partitioned, a stopped process) would
  // keep the write lock, and every replica's writes waiting, until the
  // server's TCP keepalive notices (2 h by default). hoistd never leaves a
  // transaction idle longer than it waits for an answer itself.
  if (auto st = conn->exec(fmt::format("SET idle_in_transaction_session_timeout = {}",
                                       std::max<std::int64_t>(1000, options.round_trip_timeout.count())),
                           "limit idle transactions");
      !st.ok()) {
    return st.error();
  }
  return conn;
}

std::string text_array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (const auto& v : values) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (const char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

Error Conn::broken(std::string_view what, std::string_view why) {
  broken_ = true;
  last_sqlstate_ = "08006";
  return unavailable(fmt::format("{}: {}: {} ({})", options_.noun, what, why, server()));
}

Error Conn::error_from(const pg_result* result, std::string_view what) {
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  last_sqlstate_ = state != nullptr ? state : "";
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  std::string message = one_line(primary != nullptr ? primary : PQresultErrorMessage(result));
  if (PQstatus(conn_) != CONNECTION_OK) {
    broken_ = true;
    if (last_sqlstate_.empty()) last_sqlstate_ = "08006";
    if (message.empty()) message = one_line(PQerrorMessage(conn_));
  }
  const ErrorCode code = last_sqlstate_.empty() ? ErrorCode::kUnavailable : category_of(last_sqlstate_);
  const std::string text = fmt::format("{}: {}: {}", options_.noun, what, message);
  switch (code) {
    case ErrorCode::kUnavailable: return unavailable(text);
    case ErrorCode::kConflict: return conflict(text);
    case ErrorCode::kInvalidArgument: return invalid_argument(text);
    default: return internal_error(text);
  }
}

Result<Rows> Conn::wait_result(std::string_view what) {
  const auto deadline = std::chrono::steady_clock::now() + options_.round_trip_timeout;
  Rows kept;
  std::optional<Error> failure;
  for (;;) {
    while (PQisBusy(conn_) != 0) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return broken(what, fmt::format("no answer within {} ms", options_.round_trip_timeout.count()));
      }
      pollfd pfd{PQsocket(conn_), POLLIN, 0};
      const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno != EINTR) return broken(what, std::strerror(errno));
      if (PQconsumeInput(conn_) == 0) return broken(what, one_line(PQerrorMessage(conn_)));
    }
    pg_result* result = PQgetResult(conn_);
    if (result == nullptr) break;
    Rows owned(result);
    const ExecStatusType status = PQresultStatus(result);
    if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE || status == PGRES_NONFATAL_ERROR) {
      if (!failure) failure = error_from(result, what);
    } else if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) {
      return broken(what, "the server started a COPY");
    } else {
      kept = std::move(owned);
    }
  }
  if (PQstatus(conn_) != CONNECTION_OK) {
    broken_ = true;
    if (!failure) failure = broken(what, one_line(PQerrorMessage(conn_)));
  }
  if (failure) return *failure;
  last_sqlstate_.clear();
  return kept;
}

Status Conn::exec(std::string_view sql, std::string_view what) {
  auto rows = exec_rows(sql, what);
  if (!rows.ok()) return rows.error();
  return {};
}

Result<Rows> Conn::exec_rows(std::string_view sql, std::string_view what) {
  if (broken_) return broken(what, "the connection was lost");
  const std::string text(sql);
  if (PQsendQuery(conn_, text.c_str()) == 0) return broken(what, one_line(PQerrorMessage(conn_)));
  return wait_result(what);
}

Result<Rows> Conn::query(std::string_view sql, std::string_view what, const Params& params) {
  if (broken_) return broken(what, "the connection was lost");
  // Refused rather than cut at the NUL (the same value on SQLite matches
  // or stores all of it); the connection stays as it was.
  if (params.text_holds_nul()) {
    return invalid_argument(
        fmt::format("{}: {}: a text value holds a NUL character, which PostgreSQL's text cannot "
                    "hold",
                    options_.noun, what));
  }
  auto it = prepared_.find(std::string(sql));
  if (it == prepared_.end()) {
    const std::string name = "hoist_" + std::to_string(prepared_.size() + 1);
    const std::string text(sql);
    if (PQsendPrepare(conn_, name.c_str(), text.c_str(), 0, nullptr) == 0) {
      return broken(what, one_line(PQerrorMessage(conn_)));
    }
    auto prepared = wait_result(what);
    if (!prepared.ok()) return prepared.error();
    it = prepared_.emplace(text, name).first;
  }
  const auto values = params.values();
  const auto lengths = params.lengths();
  const auto formats = params.formats();
  if (PQsendQueryPrepared(conn_, it->second.c_str(), params.size(), values.data(), lengths.data(), formats.data(), 0) ==
      0) {
    return broken(what, one_line(PQerrorMessage(conn_)));
  }
  return wait_result(what);
}

bool Conn::usable() const {
  return !broken_ && PQstatus(conn_) == CONNECTION_OK;
}

bool Conn::in_transaction() const {
  return PQtransactionStatus(conn_) != PQTRANS_IDLE;
}

std::string Conn::server() const {
  const char* host = PQhost(conn_);
  const char* port = PQport(conn_);
  return fmt::format("{}:{}", host != nullptr ? host : "?", port != nullptr ? port : "?");
}

int Conn::socket() const {
  return PQsocket(conn_);
}

Result<std::vector<Notification>> Conn::notifications() {
  if (broken_) return broken("listen", "the connection was lost");
  if (PQconsumeInput(conn_) == 0) return broken("listen", one_line(PQerrorMessage(conn_)));
  std::vector<Notification> out;
  while (PGnotify* n = PQnotifies(conn_)) {
    out.push_back({n->relname != nullptr ? n->relname : "", n->extra != nullptr ? n->extra : ""});
    PQfreemem(n);
  }
  return out;
}

}  // namespace hoist::pg
