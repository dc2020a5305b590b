// Requests in PostgreSQL (requests.h): one row each, argv and the
// requester's groups in child tables, versioned updates. A request is read
// with its lists in one statement (each list aggregated as hex, so that any
// bytes survive), and stored with them in one statement.
#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/pg_backend.h"

namespace hoist::store::pg_backend {

namespace {

// The columns read, in this order, then the argv and the groups (each
// NULL when empty, else its elements as hex joined by commas).
constexpr std::string_view kColumns =
    "id, version, kind, requester, host, rule, justification, requested_s, max_s, approval_mode, "
    "self_approval_allowed, created_s, pending_deadline_s, state, review_by, review_reviewer, review_approved, "
    "review_comment, review_at_s, grant_start_s, grant_deadline_s, ended_at_s, ended_by, end_reason, command_path, "
    "command_sha256, command_package, endpoint_id, runas_user, runas_group, "
    "(SELECT string_agg(encode(a.value, 'hex'), ',' ORDER BY a.position) FROM request_argv a WHERE a.request_id = "
    "r.id), "
    "(SELECT string_agg(encode(convert_to(g.name, 'UTF8'), 'hex'), ',' ORDER BY g.position) FROM request_groups g "
    "WHERE g.request_id = r.id)";

// $1..$29 the columns, $30 the argv, $31 the groups (each NULL when empty,
// else its elements as 'x' + hex, joined by commas: an empty element is
// "x"). The lists are written only when the request was.
constexpr std::string_view kInsert =
    "WITH ins AS (INSERT INTO requests (id, version, kind, requester, host, rule, justification, requested_s, max_s, "
    "approval_mode, self_approval_allowed, created_s, pending_deadline_s, state, review_by, review_reviewer, "
    "review_approved, review_comment, review_at_s, grant_start_s, grant_deadline_s, ended_at_s, ended_by, "
    "end_reason, command_path, command_sha256, command_package, endpoint_id, runas_user, runas_group) VALUES ($1, 1, "
    "$2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, "
    "$26, $27, $28, $29) ON CONFLICT (id) DO NOTHING RETURNING id), "
    "argv AS (INSERT INTO request_argv (request_id, position, value) SELECT ins.id, t.ord - 1, decode(substr(t.h, "
    "2), 'hex') FROM ins, unnest(string_to_array($30::text, ',')) WITH ORDINALITY AS t(h, ord)), "
    "grp AS (INSERT INTO request_groups (request_id, position, name) SELECT ins.id, t.ord - 1, "
    "convert_from(decode(substr(t.h, 2), 'hex'), 'UTF8') FROM ins, unnest(string_to_array($31::text, ',')) WITH "
    "ORDINALITY AS t(h, ord)) "
    "SELECT count(*) FROM ins";

// The statements that share the column list, made once.
struct RequestSql {
  std::string select;
  std::string select_one;
  std::string update;
  std::string due;
};

const RequestSql& sql() {
  static const RequestSql kSql{
      fmt::format("SELECT {} FROM requests r", kColumns),
      fmt::format("SELECT {} FROM requests r WHERE r.id = $1", kColumns),
      fmt::format("UPDATE requests r SET version = version + 1, requested_s = $1, max_s = $2, approval_mode = $3, "
                  "self_approval_allowed = $4, pending_deadline_s = $5, state = $6, review_by = $7, "
                  "review_reviewer = $8, review_approved = $9, review_comment = $10, review_at_s = $11, "
                  "grant_start_s = $12, grant_deadline_s = $13, ended_at_s = $14, ended_by = $15, end_reason = $16 "
                  "WHERE r.id = $17 AND r.version = $18 RETURNING {}",
                  kColumns),
      fmt::format("SELECT {} FROM requests r WHERE (state = 'pending' AND pending_deadline_s <= $1) OR (state IN "
                  "('approved', 'active') AND grant_deadline_s <= $1) ORDER BY CASE WHEN state = 'pending' THEN "
                  "pending_deadline_s ELSE grant_deadline_s END, id LIMIT $2",
                  kColumns),
  };
  return kSql;
}

// A piece of text, ASCII letters in any case, anywhere ($1: the text with
// its ASCII letters lowered, as bytes). TEXT columns are lowered as C does
// (ASCII only, as SQLite's LIKE); BYTEA ones through the escape format,
// which writes every other byte as itself or as an escape that lower()
// leaves alone.
constexpr std::string_view kTextSearch =
    " AND (position($1::bytea IN convert_to(lower(r.id COLLATE \"C\"), 'UTF8')) > 0"
    " OR position($1::bytea IN convert_to(lower(r.requester COLLATE \"C\"), 'UTF8')) > 0"
    " OR position($1::bytea IN convert_to(lower(r.host COLLATE \"C\"), 'UTF8')) > 0"
    " OR position($1::bytea IN convert_to(lower(r.rule COLLATE \"C\"), 'UTF8')) > 0"
    " OR position($1::bytea IN convert_to(lower(r.justification COLLATE \"C\"), 'UTF8')) > 0"
    " OR position($1::bytea IN convert_to(lower(COALESCE(r.review_comment, '') COLLATE \"C\"), 'UTF8')) > 0"
    " OR position($1::bytea IN decode(lower(encode(r.command_path, 'escape') COLLATE \"C\"), 'escape')) > 0"
    " OR EXISTS (SELECT 1 FROM request_argv a WHERE a.request_id = r.id AND"
    " position($1::bytea IN decode(lower(encode(a.value, 'escape') COLLATE \"C\"), 'escape')) > 0))";

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

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A list aggregated as hex joined by commas (NULL: empty).
Result<std::vector<std::string>> split_hex(const std::optional<std::string>& joined, std::string_view what) {
  std::vector<std::string> out;
  if (!joined) return out;
  out.emplace_back();
  const std::string& s = *joined;
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] == ',') {
      out.emplace_back();
      ++i;
      continue;
    }
    const int hi = hex_digit(s[i]);
    const int lo = i + 1 < s.size() ? hex_digit(s[i + 1]) : -1;
    if (hi < 0 || lo < 0) return internal_error(fmt::format("database: read {}: not hex (this is a bug)", what));
    out.back().push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

// A list as the statements above take it: NULL when empty, else each
// element as 'x' + hex, joined by commas.
std::optional<std::string> join_hex(const std::vector<std::string>& list) {
  if (list.empty()) return std::nullopt;
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const auto& item : list) {
    if (!out.empty()) out.push_back(',');
    out.push_back('x');
    for (const char c : item) {
      const auto b = static_cast<unsigned char>(c);
      out.push_back(kDigits[b >> 4]);
      out.push_back(kDigits[b & 15]);
    }
  }
  return out;
}

Result<RequestRecord> record_of(const Row& row) {
  RequestRecord rec;
  Request& r = rec.request;
  int c = 0;
  r.id = row.text_at(c++);
  rec.version = row.int_at(c++);
  const auto kind = parse_enum(row.text_at(c++), kKinds);
  r.requester = row.text_at(c++);
  r.host = row.text_at(c++);
  r.rule = row.text_at(c++);
  r.justification = row.text_at(c++);
  r.requested_duration = Seconds{row.int_at(c++)};
  r.max_duration = Seconds{row.int_at(c++)};
  const auto mode = parse_enum(row.text_at(c++), kModes);
  r.self_approval_allowed = row.int_at(c++) != 0;
  r.created_at = row.time_at(c++);
  r.pending_deadline = row.time_at(c++);
  const auto state = parse_enum(row.text_at(c++), kStates);
  if (!row.is_null(c)) {
    const auto by = parse_enum(row.text_at(c), kReviewBy);
    if (!by) return internal_error("request " + r.id + " has an unknown review kind (the database was edited?)");
    r.review = Review{*by, row.text_at(c + 1), row.int_at(c + 2) != 0, row.text_at(c + 3), row.time_at(c + 4)};
  }
  c += 5;
  r.grant_start = row.opt_time_at(c++);
  r.grant_deadline = row.opt_time_at(c++);
  r.ended_at = row.opt_time_at(c++);
  r.ended_by = row.text_at(c++);
  r.end_reason = row.text_at(c++);
  rec.command.path = row.blob_at(c++);
  if (!row.is_null(c)) {
    auto d = Sha256::from_hex(row.text_at(c));
    if (!d.ok()) return internal_error("request " + r.id + " has an unreadable sha256 (the database was edited?)");
    rec.command.sha256 = *d;
  }
  ++c;
  rec.command.package = row.text_at(c++);
  rec.endpoint_id = row.text_at(c++);
  rec.command.runas_user = row.text_at(c++);
  rec.command.runas_group = row.text_at(c++);
  if (!kind || !mode || !state) {
    return internal_error("request " + r.id + " has an unknown kind, mode or state (the database was edited?)");
  }
  r.kind = *kind;
  r.approval_mode = *mode;
  r.state = *state;
  auto argv = split_hex(row.opt_text_at(c++), "request argv");
  if (!argv.ok()) return argv.error();
  rec.command.argv = std::move(*argv);
  auto groups = split_hex(row.opt_text_at(c++), "requester groups");
  if (!groups.ok()) return groups.error();
  rec.requester_groups = std::move(*groups);
  return rec;
}

Result<std::vector<RequestRecord>> records_of(Result<Rows> rows) {
  if (!rows.ok()) return rows.error();
  std::vector<RequestRecord> out;
  out.reserve(static_cast<std::size_t>(rows->size()));
  for (int i = 0; i < rows->size(); ++i) {
    auto rec = record_of(rows->row(i));
    if (!rec.ok()) return rec.error();
    out.push_back(std::move(*rec));
  }
  return out;
}

Result<std::optional<RequestRecord>> first_record(Result<Rows> rows) {
  auto all = records_of(std::move(rows));
  if (!all.ok()) return all.error();
  if (all->empty()) return std::optional<RequestRecord>();
  return std::optional<RequestRecord>(std::move(all->front()));
}

Result<std::optional<RequestRecord>> request_on(Conn& conn, const std::string& id) {
  return first_record(conn.query(sql().select_one, "read request " + id, id));
}

// Review fields: NULL when there is no review.
struct ReviewParams {
  std::optional<std::string> by;
  std::optional<std::string> reviewer;
  std::optional<std::int64_t> approved;
  std::optional<std::string> comment;
  std::optional<TimePoint> at;
};

ReviewParams review_params(const Request& r) {
  ReviewParams p;
  if (r.review) {
    p.by = std::string(to_string(r.review->by));
    p.reviewer = r.review->reviewer;
    p.approved = r.review->approved ? 1 : 0;
    p.comment = r.review->comment;
    p.at = r.review->at;
  }
  return p;
}

// The search text as the statements compare it: ASCII letters lowered.
std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

Result<RequestRecord> PgTx::insert_request(const RequestRecord& record) {
  const Request& r = record.request;
  if (r.id.empty() || r.requester.empty()) return invalid_argument("a request needs an id and a requester");
  const ReviewParams review = review_params(r);
  std::optional<std::string> sha;
  if (record.command.sha256) sha = record.command.sha256->hex();
  pg::Params p;
  p.add(r.id);
  p.add(to_string(r.kind));
  p.add(r.requester);
  p.add(r.host);
  p.add(r.rule);
  p.add(r.justification);
  p.add(static_cast<std::int64_t>(r.requested_duration.count()));
  p.add(static_cast<std::int64_t>(r.max_duration.count()));
  p.add(to_string(r.approval_mode));
  p.add(r.self_approval_allowed);
  p.add(r.created_at);
  p.add(r.pending_deadline);
  p.add(to_string(r.state));
  p.add(review.by);
  p.add(review.reviewer);
  p.add(review.approved);
  p.add(review.comment);
  p.add(review.at);
  p.add(r.grant_start);
  p.add(r.grant_deadline);
  p.add(r.ended_at);
  p.add(r.ended_by);
  p.add(r.end_reason);
  p.add(Blob{record.command.path});
  p.add(sha);
  p.add(record.command.package);
  p.add(record.endpoint_id);
  p.add(record.command.runas_user);
  p.add(record.command.runas_group);
  p.add(join_hex(record.command.argv));
  p.add(join_hex(record.requester_groups));
  auto rows = conn_.query(kInsert, "store request " + r.id, p);
  if (!rows.ok()) return rows.error();
  if (rows->empty() || rows->row(0).int_at(0) != 1) return conflict("request " + r.id + " already exists");
  RequestRecord out = record;
  out.version = 1;
  return out;
}

Result<std::optional<RequestRecord>> PgTx::get_request(const std::string& id) {
  return request_on(conn_, id);
}

Result<std::size_t> PgTx::count_pending(const std::optional<std::string>& requester, const std::string& endpoint_id,
                                        TimePoint now) {
  auto rows = requester ? conn_.query(
                              "SELECT COUNT(*) FROM requests WHERE state = 'pending' AND requester = $1 AND "
                              "endpoint_id = $2 AND pending_deadline_s > $3",
                              "count pending requests", *requester, endpoint_id, now)
                        : conn_.query(
                              "SELECT COUNT(*) FROM requests WHERE state = 'pending' AND endpoint_id = $1 AND "
                              "pending_deadline_s > $2",
                              "count pending requests", endpoint_id, now);
  if (!rows.ok()) return rows.error();
  if (rows->empty()) return internal_error("COUNT(*) returned no row");
  return static_cast<std::size_t>(rows->row(0).int_at(0));
}

Result<RequestRecord> PgTx::update_request(const RequestRecord& record) {
  const Request& r = record.request;
  const ReviewParams review = review_params(r);
  auto updated = first_record(conn_.query(
      sql().update, "update request " + r.id, static_cast<std::int64_t>(r.requested_duration.count()),
      static_cast<std::int64_t>(r.max_duration.count()), to_string(r.approval_mode), r.self_approval_allowed,
      r.pending_deadline, to_string(r.state), review.by, review.reviewer, review.approved, review.comment, review.at,
      r.grant_start, r.grant_deadline, r.ended_at, r.ended_by, r.end_reason, r.id, record.version));
  if (!updated.ok()) return updated.error();
  if (*updated) return std::move(**updated);
  auto current = get_request(r.id);
  if (!current.ok()) return current.error();
  if (!*current) return not_found("no request " + r.id);
  return conflict(
      fmt::format("request {} changed meanwhile (version {} is stored, {} was read): reload it and try again", r.id,
                  (*current)->version, record.version));
}

Result<std::optional<RequestRecord>> PgStore::request(const std::string& id) {
  return read<std::optional<RequestRecord>>([&](Conn& conn) { return request_on(conn, id); });
}

Result<std::vector<RequestRecord>> PgStore::requests(const RequestFilter& f) {
  if (auto st = check_page_limit(f.limit); !st.ok()) return st.error();
  // One of a finite set of texts: which filters are present, never their
  // values.
  std::string text = sql().select + " WHERE TRUE";
  pg::Params params;
  if (!f.text.empty()) {
    // First, so that it is $1. A scan: text search is for a person's
    // history view, a page at a time.
    params.add(Blob{ascii_lower(f.text)});
    text += kTextSearch;
  }
  const auto next = [&] { return fmt::format("${}", params.size()); };
  if (!f.after_id.empty()) {
    params.add(f.after_id);
    text += (f.newest_first ? " AND r.id < " : " AND r.id > ") + next();
  }
  if (f.state) {
    params.add(to_string(*f.state));
    text += " AND r.state = " + next();
  }
  if (f.requester) {
    params.add(*f.requester);
    text += " AND r.requester = " + next();
  }
  if (f.host) {
    params.add(*f.host);
    text += " AND r.host = " + next();
  }
  if (f.endpoint_id) {
    params.add(*f.endpoint_id);
    text += " AND r.endpoint_id = " + next();
  }
  if (f.created_since) {
    params.add(*f.created_since);
    text += " AND r.created_s >= " + next();
  }
  if (f.created_until) {
    params.add(*f.created_until);
    text += " AND r.created_s < " + next();
  }
  params.add(static_cast<std::int64_t>(f.limit));
  text += (f.newest_first ? " ORDER BY r.id DESC LIMIT " : " ORDER BY r.id LIMIT ") + next();
  return read<std::vector<RequestRecord>>(
      [&](Conn& conn) { return records_of(conn.query(text, "read requests", params)); });
}

Result<std::vector<RequestRecord>> PgStore::due_requests(TimePoint now, std::size_t limit) {
  if (auto st = check_page_limit(limit); !st.ok()) return st.error();
  return read<std::vector<RequestRecord>>([&](Conn& conn) {
    return records_of(conn.query(sql().due, "read due requests", now, static_cast<std::int64_t>(limit)));
  });
}

Result<std::vector<std::pair<RequestState, std::size_t>>> PgStore::request_counts() {
  using Counts = std::vector<std::pair<RequestState, std::size_t>>;
  return read<Counts>([](Conn& conn) -> Result<Counts> {
    Counts out;
    for (const auto state : kStates) out.emplace_back(state, 0);
    auto rows = conn.query("SELECT state, COUNT(*) FROM requests GROUP BY state", "count requests by state");
    if (!rows.ok()) return rows.error();
    for (int i = 0; i < rows->size(); ++i) {
      const Row row = rows->row(i);
      const auto state = parse_enum(row.text_at(0), kStates);
      if (!state) return internal_error(fmt::format("a stored request has the unknown state \"{}\"", row.text_at(0)));
      for (auto& [st, n] : out) {
        if (st == *state) n = static_cast<std::size_t>(row.int_at(1));
      }
    }
    return out;
  });
}

}  // namespace hoist::store::pg_backend
