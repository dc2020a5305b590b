// The audit trail in PostgreSQL (audit_trail.h): each event chained to the
// newest one inside the write transaction, hashes stored as 64 hex digits.
// Every write holds kWriteLock, so appends from every replica form one
// linear chain; each statement after the lock sees what the writers before
// it committed.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/pg_backend.h"

namespace hoist::store::pg_backend {

namespace {

AuditEvent event_of(const Row& r) {
  AuditEvent e;
  e.seq = static_cast<std::uint64_t>(r.int_at(0));
  e.time = AuditTime{std::chrono::milliseconds{r.int_at(1)}};
  e.actor = r.text_at(2);
  e.action = r.text_at(3);
  e.target = r.text_at(4);
  e.host = r.text_at(5);
  e.details = r.text_at(6);
  // A stored hash that is not 64 hex digits is itself tampering: keep the
  // event with a zero hash so verification reports it.
  if (auto h = Sha256::from_hex(r.text_at(7)); h.ok()) e.prev_hash = *h;
  if (auto h = Sha256::from_hex(r.text_at(8)); h.ok()) e.hash = *h;
  return e;
}

Result<std::vector<AuditEvent>> events_of(Result<Rows> rows) {
  return all_rows<AuditEvent>(std::move(rows), event_of);
}

constexpr auto kMaxSeq = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

Error trail_refused(std::string_view what) {
  return unavailable(fmt::format(
      "{}: the database was changed outside hoistd. hoistd appends nothing to an audit trail that does not verify, so "
      "it changes nothing; see docs/hoistd.md, \"When the audit trail does not verify\"",
      what));
}

constexpr std::string_view kLastEvent =
    "SELECT seq, time_ms, actor, action, target, host, details, prev_hash, hash FROM audit_events ORDER BY seq DESC "
    "LIMIT 1";
constexpr std::string_view kRange =
    "SELECT seq, time_ms, actor, action, target, host, details, prev_hash, hash FROM audit_events WHERE seq >= $1 "
    "ORDER BY seq LIMIT $2";
constexpr std::string_view kFilterHead =
    "SELECT seq, time_ms, actor, action, target, host, details, prev_hash, hash FROM audit_events WHERE seq > $1";

}  // namespace

Result<std::optional<AuditEvent>> PgStore::last_event(Conn& conn) {
  return first_row<AuditEvent>(conn.query(kLastEvent, "read the audit trail's head"), event_of);
}

Result<std::optional<AuditEvent>> PgStore::begin_write_reading_head(Conn& conn) {
  // The SELECT runs after the lock is granted, on a snapshot of its own
  // (READ COMMITTED): it sees every earlier holder's commit.
  static const std::string kBeginReadingHead =
      fmt::format("BEGIN; SELECT pg_advisory_xact_lock({}); {}", kWriteLock, kLastEvent);
  return first_row<AuditEvent>(conn.exec_rows(kBeginReadingHead, "begin a write"), event_of);
}

Status PgStore::check_head(Conn& conn, const std::optional<AuditEvent>& prev) {
  if (prev && audit_event_hash(*prev) != prev->hash) {
    return trail_refused(fmt::format("the newest audit event, #{}, does not match its hash", prev->seq));
  }
  std::optional<ChainHead> committed;
  {
    std::lock_guard lock(head_mu_);
    committed = committed_head_;
  }
  if (!committed) return {};
  if (prev && prev->seq == committed->seq && prev->hash == committed->hash) return {};
  // Another replica (or another of this store's writers, committed but not
  // yet recorded here) appended after it: it must still be there, unchanged.
  auto rows = conn.query("SELECT hash FROM audit_events WHERE seq = $1", "read the audit trail's head",
                         static_cast<std::int64_t>(committed->seq));
  if (!rows.ok()) return rows.error();
  if (rows->empty() || rows->row(0).text_at(0) != committed->hash.hex()) {
    return trail_refused(fmt::format("audit event #{}, which this hoistd wrote, is gone or changed", committed->seq));
  }
  return {};
}

Result<AuditEvent> PgTx::append_audit(const AuditDraft& draft) {
  if (draft.actor.empty() || draft.action.empty()) {
    return invalid_argument("an audit event needs an actor and an action");
  }
  if (!head_) {
    auto read = store_.last_event(conn_);
    if (!read.ok()) return read.error();
    head_ = std::move(*read);
  }
  const std::optional<AuditEvent>& prev = *head_;
  if (auto st = store_.check_head(conn_, prev); !st.ok()) return st.error();
  AuditEvent e;
  e.time = draft.time;
  e.actor = draft.actor;
  e.action = draft.action;
  e.target = draft.target;
  e.host = draft.host;
  e.details = draft.details.empty() ? "{}" : draft.details;
  e = chain_after(prev, std::move(e));
  if (auto st = store_.insert_audit_routed(conn_, e); !st.ok()) return st.error();
  appended_ = ChainHead{e.seq, e.hash};
  head_ = e;
  return e;
}

Result<std::vector<AuditEvent>> PgStore::audit_events(const AuditFilter& f) {
  if (auto st = check_page_limit(f.limit); !st.ok()) return st.error();
  if (f.after_seq >= kMaxSeq) return std::vector<AuditEvent>();
  // One of a finite set of texts: which filters are present, never their
  // values.
  std::string sql(kFilterHead);
  pg::Params params;
  params.add(static_cast<std::int64_t>(f.after_seq));
  if (f.since) {
    params.add(static_cast<std::int64_t>(f.since->time_since_epoch().count()));
    sql += fmt::format(" AND time_ms >= ${}", params.size());
  }
  if (f.until) {
    params.add(static_cast<std::int64_t>(f.until->time_since_epoch().count()));
    sql += fmt::format(" AND time_ms < ${}", params.size());
  }
  const std::pair<const std::optional<std::string>*, std::string_view> texts[] = {
      {&f.actor, "actor"}, {&f.action, "action"}, {&f.target, "target"}, {&f.host, "host"}};
  for (const auto& [value, column] : texts) {
    if (!*value) continue;
    params.add(**value);
    sql += fmt::format(" AND {} = ${}", column, params.size());
  }
  params.add(static_cast<std::int64_t>(f.limit));
  sql += fmt::format(" ORDER BY seq LIMIT ${}", params.size());
  return read<std::vector<AuditEvent>>(
      [&](Conn& conn) { return events_of(conn.query(sql, "read audit events", params)); });
}

Result<std::vector<AuditEvent>> PgStore::audit_range(std::uint64_t first, std::size_t count) {
  // BIGINT holds every seq there is; past it there is nothing to read.
  if (first > kMaxSeq || count == 0) return std::vector<AuditEvent>();
  const auto limit = static_cast<std::int64_t>(std::min<std::uint64_t>(count, kMaxSeq));
  return read<std::vector<AuditEvent>>([&](Conn& conn) {
    return events_of(conn.query(kRange, "read audit events", static_cast<std::int64_t>(first), limit));
  });
}

Result<std::optional<ChainHead>> PgStore::audit_head() {
  return read<std::optional<ChainHead>>([&](Conn& conn) -> Result<std::optional<ChainHead>> {
    auto last = last_event(conn);
    if (!last.ok()) return last.error();
    if (!*last) return std::optional<ChainHead>();
    return std::optional<ChainHead>(ChainHead{(*last)->seq, (*last)->hash});
  });
}

}  // namespace hoist::store::pg_backend
