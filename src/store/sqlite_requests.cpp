// Requests in SQLite (requests.h): one row each, argv and the requester's
// groups in child tables, versioned updates.
#include "store/sqlite_backend.h"

#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hoist::store::sqlite_backend {

namespace {

constexpr std::string_view kRequestColumns =
    "id, version, kind, requester, host, rule, justification, requested_s, max_s, approval_mode, "
    "self_approval_allowed, created_s, pending_deadline_s, state, review_by, review_reviewer, review_approved, "
    "review_comment, review_at_s, grant_start_s, grant_deadline_s, ended_at_s, ended_by, end_reason, command_path, "
    "command_sha256, command_package, endpoint_id, runas_user, runas_group";

std::string_view to_string(Review::By by) {
  switch (by) {
    case Review::By::kApprover: return "approver";
    case Review::By::kSelf: return "self";
    case Review::By::kAutonomous: return "autonomous";
  }
  return "approver";
}

template <class E, std::size_t N>
std::optional<E> parse_enum(std::string_view text, const E (&values)[N]) {
  for (const E v : values) {
    if (to_string(v) == text) return v;
  }
  return std::nullopt;
}

constexpr RequestState kStates[] = {RequestState::kPending, RequestState::kApproved,  RequestState::kActive,
                                    RequestState::kDenied,  RequestState::kCancelled, RequestState::kExpired,
                                    RequestState::kRevoked};

constexpr RequestKind kKinds[] = {RequestKind::kCommand, RequestKind::kSession};

constexpr ApprovalMode kModes[] = {ApprovalMode::kManual, ApprovalMode::kAutonomous, ApprovalMode::kSelf};

constexpr Review::By kReviewBy[] = {Review::By::kApprover, Review::By::kSelf, Review::By::kAutonomous};

// Binds the state-machine fields (everything that update_request changes),
// starting at parameter `i`; returns the next free parameter.
int bind_request_state(Stmt& s, int i, const Request& r) {
  s.bind_int(i++, r.requested_duration.count());
  s.bind_int(i++, r.max_duration.count());
  s.bind_text(i++, to_string(r.approval_mode));
  s.bind_int(i++, r.self_approval_allowed ? 1 : 0);
  s.bind_time(i++, r.pending_deadline);
  s.bind_text(i++, to_string(r.state));
  if (r.review) {
    s.bind_text(i++, to_string(r.review->by));
    s.bind_text(i++, r.review->reviewer);
    s.bind_int(i++, r.review->approved ? 1 : 0);
    s.bind_text(i++, r.review->comment);
    s.bind_time(i++, r.review->at);
  } else {
    for (int k = 0; k < 5; ++k) s.bind_null(i++);
  }
  s.bind_opt_time(i++, r.grant_start);
  s.bind_opt_time(i++, r.grant_deadline);
  s.bind_opt_time(i++, r.ended_at);
  s.bind_text(i++, r.ended_by);
  s.bind_text(i++, r.end_reason);
  return i;
}

Result<std::vector<RequestRecord>> query_requests(Db& db, Stmt& stmt) {
  std::vector<RequestRecord> out;
  for (;;) {
    auto row = stmt.step("read requests");
    if (!row.ok()) return row.error();
    if (!*row) break;
    RequestRecord rec;
    Request& r = rec.request;
    int c = 0;
    r.id = stmt.text_at(c++);
    rec.version = stmt.int_at(c++);
    const auto kind = parse_enum(stmt.text_at(c++), kKinds);
    r.requester = stmt.text_at(c++);
    r.host = stmt.text_at(c++);
    r.rule = stmt.text_at(c++);
    r.justification = stmt.text_at(c++);
    r.requested_duration = Seconds{stmt.int_at(c++)};
    r.max_duration = Seconds{stmt.int_at(c++)};
    const auto mode = parse_enum(stmt.text_at(c++), kModes);
    r.self_approval_allowed = stmt.int_at(c++) != 0;
    r.created_at = stmt.time_at(c++);
    r.pending_deadline = stmt.time_at(c++);
    const auto state = parse_enum(stmt.text_at(c++), kStates);
    if (!stmt.is_null(c)) {
      const auto by = parse_enum(stmt.text_at(c), kReviewBy);
      if (!by) return internal_error("request " + r.id + " has an unknown review kind (the database was edited?)");
      r.review = Review{*by, stmt.text_at(c + 1), stmt.int_at(c + 2) != 0, stmt.text_at(c + 3), stmt.time_at(c + 4)};
    }
    c += 5;
    r.grant_start = stmt.opt_time_at(c++);
    r.grant_deadline = stmt.opt_time_at(c++);
    r.ended_at = stmt.opt_time_at(c++);
    r.ended_by = stmt.text_at(c++);
    r.end_reason = stmt.text_at(c++);
    rec.command.path = stmt.blob_at(c++);
    if (!stmt.is_null(c)) {
      auto d = Sha256::from_hex(stmt.text_at(c));
      if (!d.ok()) return internal_error("request " + r.id + " has an unreadable sha256 (the database was edited?)");
      rec.command.sha256 = *d;
    }
    ++c;
    rec.command.package = stmt.text_at(c++);
    rec.endpoint_id = stmt.text_at(c++);
    rec.command.runas_user = stmt.text_at(c++);
    rec.command.runas_group = stmt.text_at(c++);
    if (!kind || !mode || !state) {
      return internal_error("request " + r.id + " has an unknown kind, mode or state (the database was edited?)");
    }
    r.kind = *kind;
    r.approval_mode = *mode;
    r.state = *state;
    out.push_back(std::move(rec));
  }
  // The lists, one small query each (pages are at most kMaxPage). A failed
  // step is an error, never a shorter argv.
  for (RequestRecord& rec : out) {
    auto argv = db.prepare("SELECT value FROM request_argv WHERE request_id = ? ORDER BY position");
    if (!argv.ok()) return argv.error();
    argv->bind_text(1, rec.request.id);
    for (;;) {
      auto row = argv->step("read request argv");
      if (!row.ok()) return row.error();
      if (!*row) break;
      rec.command.argv.push_back(argv->blob_at(0));
    }
    auto groups = db.prepare("SELECT name FROM request_groups WHERE request_id = ? ORDER BY position");
    if (!groups.ok()) return groups.error();
    groups->bind_text(1, rec.request.id);
    for (;;) {
      auto row = groups->step("read requester groups");
      if (!row.ok()) return row.error();
      if (!*row) break;
      rec.requester_groups.push_back(groups->text_at(0));
    }
  }
  return out;
}

Status write_request_children(Db& db, const RequestRecord& rec) {
  for (std::size_t i = 0; i < rec.command.argv.size(); ++i) {
    auto s = db.prepare("INSERT INTO request_argv (request_id, position, value) VALUES (?, ?, ?)");
    if (!s.ok()) return s.error();
    s->bind_text(1, rec.request.id);
    s->bind_int(2, static_cast<std::int64_t>(i));
    s->bind_blob(3, rec.command.argv[i]);
    if (auto ran = s->run("store request argv"); !ran.ok()) return ran.error();
  }
  for (std::size_t i = 0; i < rec.requester_groups.size(); ++i) {
    auto s = db.prepare("INSERT INTO request_groups (request_id, position, name) VALUES (?, ?, ?)");
    if (!s.ok()) return s.error();
    s->bind_text(1, rec.request.id);
    s->bind_int(2, static_cast<std::int64_t>(i));
    s->bind_text(3, rec.requester_groups[i]);
    if (auto ran = s->run("store request groups"); !ran.ok()) return ran.error();
  }
  return {};
}

}  // namespace

Result<RequestRecord> SqliteTx::insert_request(const RequestRecord& record) {
  const Request& r = record.request;
  if (r.id.empty() || r.requester.empty()) return invalid_argument("a request needs an id and a requester");
  auto s = store_.prepare(fmt::format(
      "INSERT INTO requests ({}) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
      "?, ?, ?, ?)",
      kRequestColumns));
  if (!s.ok()) return s.error();
  Stmt& st = *s;
  st.bind_text(1, r.id);
  st.bind_text(2, to_string(r.kind));
  st.bind_text(3, r.requester);
  st.bind_text(4, r.host);
  st.bind_text(5, r.rule);
  st.bind_text(6, r.justification);
  st.bind_int(7, r.requested_duration.count());
  st.bind_int(8, r.max_duration.count());
  st.bind_text(9, to_string(r.approval_mode));
  st.bind_int(10, r.self_approval_allowed ? 1 : 0);
  st.bind_time(11, r.created_at);
  st.bind_time(12, r.pending_deadline);
  st.bind_text(13, to_string(r.state));
  if (r.review) {
    st.bind_text(14, to_string(r.review->by));
    st.bind_text(15, r.review->reviewer);
    st.bind_int(16, r.review->approved ? 1 : 0);
    st.bind_text(17, r.review->comment);
    st.bind_time(18, r.review->at);
  } else {
    for (int k = 14; k <= 18; ++k) st.bind_null(k);
  }
  st.bind_opt_time(19, r.grant_start);
  st.bind_opt_time(20, r.grant_deadline);
  st.bind_opt_time(21, r.ended_at);
  st.bind_text(22, r.ended_by);
  st.bind_text(23, r.end_reason);
  st.bind_blob(24, record.command.path);
  if (record.command.sha256) {
    st.bind_text(25, record.command.sha256->hex());
  } else {
    st.bind_null(25);
  }
  st.bind_text(26, record.command.package);
  st.bind_text(27, record.endpoint_id);
  st.bind_text(28, record.command.runas_user);
  st.bind_text(29, record.command.runas_group);
  if (auto ran = st.run("store request " + r.id); !ran.ok()) {
    const Error& e = ran.error();
    if (e.code == ErrorCode::kConflict) return conflict("request " + r.id + " already exists");
    return e;
  }
  if (auto c = write_request_children(store_.db(), record); !c.ok()) return c.error();
  RequestRecord out = record;
  out.version = 1;
  return out;
}

Result<std::optional<RequestRecord>> SqliteTx::get_request(const std::string& id) {
  auto s = store_.prepare(fmt::format("SELECT {} FROM requests WHERE id = ?", kRequestColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, id);
  return first_row(query_requests(store_.db(), *s));
}

Result<std::size_t> SqliteTx::count_pending(const std::optional<std::string>& requester, const std::string& endpoint_id,
                                            TimePoint now) {
  auto s = store_.prepare(
      "SELECT COUNT(*) FROM requests WHERE state = 'pending' AND (?1 IS NULL OR requester = ?1) AND "
      "endpoint_id = ?2 AND pending_deadline_s > ?3");
  if (!s.ok()) return s.error();
  if (requester) {
    s->bind_text(1, *requester);
  } else {
    s->bind_null(1);
  }
  s->bind_text(2, endpoint_id);
  s->bind_time(3, now);
  auto row = s->step("count pending requests");
  if (!row.ok()) return row.error();
  if (!*row) return internal_error("COUNT(*) returned no row");
  return static_cast<std::size_t>(s->int_at(0));
}

Result<RequestRecord> SqliteTx::update_request(const RequestRecord& record) {
  auto s = store_.prepare(
      "UPDATE requests SET version = version + 1, requested_s = ?, max_s = ?, approval_mode = ?, "
      "self_approval_allowed = ?, pending_deadline_s = ?, state = ?, review_by = ?, review_reviewer = ?, "
      "review_approved = ?, review_comment = ?, review_at_s = ?, grant_start_s = ?, grant_deadline_s = ?, "
      "ended_at_s = ?, ended_by = ?, end_reason = ? WHERE id = ? AND version = ?");
  if (!s.ok()) return s.error();
  const int next = bind_request_state(*s, 1, record.request);
  s->bind_text(next, record.request.id);
  s->bind_int(next + 1, record.version);
  if (auto ran = s->run("update request " + record.request.id); !ran.ok()) return ran.error();
  if (store_.db().changes() == 1) {
    auto now = get_request(record.request.id);
    if (!now.ok()) return now.error();
    if (!*now) return internal_error("request " + record.request.id + " vanished inside its transaction");
    return std::move(**now);
  }
  auto current = get_request(record.request.id);
  if (!current.ok()) return current.error();
  if (!*current) return not_found("no request " + record.request.id);
  return conflict(
      fmt::format("request {} changed meanwhile (version {} is stored, {} was read): reload it and try again",
                  record.request.id, (*current)->version, record.version));
}

Result<std::optional<RequestRecord>> SqliteStore::request(const std::string& id) {
  std::lock_guard lock(mu_);
  SqliteTx reader(*this);  // read-only use, outside a write transaction
  return reader.get_request(id);
}

Result<std::vector<RequestRecord>> SqliteStore::requests(const RequestFilter& f) {
  if (auto st = check_page_limit(f.limit); !st.ok()) return st.error();
  std::string sql = fmt::format("SELECT {} FROM requests WHERE 1", kRequestColumns);
  std::string pattern;
  if (!f.text.empty()) {
    // First, so that it is ?1 and the plain ?s after it are numbered 2, 3...
    // A scan: text search is for a person's history view, a page at a time.
    sql +=
        " AND (id LIKE ?1 ESCAPE '\\' OR requester LIKE ?1 ESCAPE '\\' OR host LIKE ?1 ESCAPE '\\' OR rule LIKE ?1 "
        "ESCAPE '\\' OR justification LIKE ?1 ESCAPE '\\' OR CAST(command_path AS TEXT) LIKE ?1 ESCAPE '\\' OR "
        "IFNULL(review_comment, '') LIKE ?1 ESCAPE '\\' OR EXISTS (SELECT 1 FROM request_argv a WHERE a.request_id = "
        "requests.id AND CAST(a.value AS TEXT) LIKE ?1 ESCAPE '\\'))";
    pattern.reserve(f.text.size() * 2 + 2);
    pattern.push_back('%');
    for (char c : f.text) {
      if (c == '%' || c == '_' || c == '\\') pattern += '\\';
      pattern += c;
    }
    pattern += '%';
  }
  if (!f.after_id.empty()) sql += f.newest_first ? " AND id < ?" : " AND id > ?";
  if (f.state) sql += " AND state = ?";
  if (f.requester) sql += " AND requester = ?";
  if (f.host) sql += " AND host = ?";
  if (f.endpoint_id) sql += " AND endpoint_id = ?";
  if (f.created_since) sql += " AND created_s >= ?";
  if (f.created_until) sql += " AND created_s < ?";
  sql += f.newest_first ? " ORDER BY id DESC LIMIT ?" : " ORDER BY id LIMIT ?";
  std::lock_guard lock(mu_);
  auto s = prepare(sql);
  if (!s.ok()) return s.error();
  // ?1 is the text pattern when there is one; the other parameters follow.
  int i = f.text.empty() ? 1 : 2;
  if (!f.text.empty()) s->bind_text(1, pattern);
  if (!f.after_id.empty()) s->bind_text(i++, f.after_id);
  if (f.state) s->bind_text(i++, to_string(*f.state));
  if (f.requester) s->bind_text(i++, *f.requester);
  if (f.host) s->bind_text(i++, *f.host);
  if (f.endpoint_id) s->bind_text(i++, *f.endpoint_id);
  if (f.created_since) s->bind_time(i++, *f.created_since);
  if (f.created_until) s->bind_time(i++, *f.created_until);
  s->bind_int(i, static_cast<std::int64_t>(f.limit));
  return query_requests(db(), *s);
}

Result<std::vector<RequestRecord>> SqliteStore::due_requests(TimePoint now, std::size_t limit) {
  if (auto st = check_page_limit(limit); !st.ok()) return st.error();
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format(
      "SELECT {} FROM requests WHERE (state = 'pending' AND pending_deadline_s <= ?1) OR (state IN ('approved', "
      "'active') AND grant_deadline_s <= ?1) ORDER BY CASE WHEN state = 'pending' THEN pending_deadline_s ELSE "
      "grant_deadline_s END, id LIMIT ?2",
      kRequestColumns));
  if (!s.ok()) return s.error();
  s->bind_time(1, now);
  s->bind_int(2, static_cast<std::int64_t>(limit));
  return query_requests(db(), *s);
}

Result<std::vector<std::pair<RequestState, std::size_t>>> SqliteStore::request_counts() {
  std::vector<std::pair<RequestState, std::size_t>> out;
  for (const auto state : kStates) out.emplace_back(state, 0);
  std::lock_guard lock(mu_);
  // An index on (state, ...) covers it: the table itself is not read.
  auto s = prepare("SELECT state, COUNT(*) FROM requests GROUP BY state");
  if (!s.ok()) return s.error();
  for (;;) {
    auto row = s->step("count requests by state");
    if (!row.ok()) return row.error();
    if (!*row) break;
    const auto state = parse_enum(s->text_at(0), kStates);
    if (!state) return internal_error(fmt::format("a stored request has the unknown state \"{}\"", s->text_at(0)));
    for (auto& [st, n] : out) {
      if (st == *state) n = static_cast<std::size_t>(s->int_at(1));
    }
  }
  return out;
}

}  // namespace hoist::store::sqlite_backend
