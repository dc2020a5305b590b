// The push queue and the ids of agents' uploaded events in PostgreSQL
// (push.h), as sqlite_push.cpp stores them.
//
// MUST: push sequence numbers are handed out in commit order. An agent
// resumes after the last seq it processed, so a message that committed
// with a smaller seq than one the agent already read would never reach
// it. push_messages.seq is an identity column: its sequence hands out a
// value when the INSERT runs, not when the transaction commits, and two
// overlapping transactions could commit in the other order. They do not
// overlap: every write transaction (PgStore::write and write_unsynced)
// holds kWriteLock from its BEGIN until its COMMIT has made it visible
// (pg_advisory_xact_lock is released after that), on every replica, so
// the next seq is drawn only after every smaller one is committed (or
// rolled back: a gap, never a reuse). This needs the sequence's CACHE to
// stay 1 (the default): with a larger cache each connection would draw
// from its own block, out of order.
//
// No insert is left to fail on a constraint (a failed statement aborts the
// transaction): a missing endpoint is a WHERE EXISTS that inserts nothing,
// a known event id ON CONFLICT DO NOTHING, and only then is the reason
// looked up.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "store/pg_backend.h"

namespace hoist::store::pg_backend {

namespace {

// A seq as BIGINT: those past its range (never handed out) stay past
// every stored one.
std::int64_t seq_param(std::uint64_t seq) {
  return static_cast<std::int64_t>(
      std::min<std::uint64_t>(seq, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())));
}

// An array literal of the cursors' endpoint ids (TEXT[]): every element
// in double quotes, with '"' and '\\' escaped, so no id can end an element
// or the array early; or of their seqs (BIGINT[]).
std::string endpoint_array(std::span<const PushCursor> cursors) {
  std::string out = "{";
  for (const auto& c : cursors) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (const char ch : c.endpoint_id) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string seq_array(std::span<const PushCursor> cursors) {
  std::string out = "{";
  for (const auto& c : cursors) {
    if (out.size() > 1) out += ',';
    out += std::to_string(seq_param(c.after_seq));
  }
  out += '}';
  return out;
}

}  // namespace

Result<PushMessage> PgTx::enqueue_push(const std::string& endpoint_id, const std::string& kind,
                                       const std::string& payload, TimePoint at) {
  if (kind.empty()) return invalid_argument("a push message needs a kind");
  // RETURNING: the seq this row got (see the MUST above).
  auto rows = conn_.query(
      "INSERT INTO push_messages (endpoint_id, kind, payload, created_s) SELECT $1::TEXT, $2::TEXT, $3::TEXT, "
      "$4::BIGINT WHERE EXISTS (SELECT 1 FROM endpoints WHERE id = $1::TEXT) RETURNING seq",
      "queue push message", endpoint_id, kind, payload, at);
  if (!rows.ok()) return rows.error();
  if (rows->empty()) return not_found("no endpoint " + endpoint_id + " to push to");
  return PushMessage{static_cast<std::uint64_t>(rows->row(0).int_at(0)), endpoint_id, kind, payload, at};
}

Result<std::size_t> PgTx::enqueue_push_many(const std::vector<std::string>& endpoint_ids, const std::string& kind,
                                            const std::string& payload, TimePoint at) {
  if (kind.empty()) return invalid_argument("a push message needs a kind");
  if (endpoint_ids.empty()) return std::size_t{0};
  // The ids as one TEXT[] parameter, in order (the rows are inserted as
  // the sorted SELECT yields them, so their seqs follow the list);
  // unknown ids drop out of the join.
  auto queued = conn_.execute(
      "INSERT INTO push_messages (endpoint_id, kind, payload, created_s) SELECT e.id, $2::TEXT, $3::TEXT, $4::BIGINT "
      "FROM unnest($1::TEXT[]) WITH ORDINALITY AS w(id, n) JOIN endpoints e ON e.id = w.id ORDER BY w.n",
      "queue push messages", pg::text_array(endpoint_ids), kind, payload, at);
  if (!queued.ok()) return queued.error();
  return static_cast<std::size_t>(*queued);
}

Status PgTx::acknowledge_push(const std::string& endpoint_id, std::uint64_t seq) {
  // This endpoint's messages only: seq grows across all endpoints.
  auto changed = conn_.execute("DELETE FROM push_messages WHERE endpoint_id = $1 AND seq <= $2",
                               "acknowledge push messages", endpoint_id, seq_param(seq));
  return changed.ok() ? Status{} : Status{changed.error()};
}

Status PgStore::acknowledge_push(const std::string& endpoint_id, std::uint64_t seq) {
  auto changed = read<std::int64_t>([&](Conn& conn) {
    return conn.execute("DELETE FROM push_messages WHERE endpoint_id = $1 AND seq <= $2", "acknowledge push messages",
                        endpoint_id, seq_param(seq));
  });
  return changed.ok() ? Status{} : Status{changed.error()};
}

Result<bool> PgTx::record_agent_event(const std::string& id, const std::string& endpoint_id, const std::string& kind,
                                      TimePoint at) {
  if (id.empty() || kind.empty()) return invalid_argument("an agent event needs an id and a kind");
  auto inserted = conn_.execute(
      "INSERT INTO agent_events (id, endpoint_id, kind, received_s) SELECT $1::TEXT, $2::TEXT, $3::TEXT, $4::BIGINT "
      "WHERE EXISTS (SELECT 1 FROM endpoints WHERE id = $2::TEXT) ON CONFLICT (id) DO NOTHING",
      "record agent event", id, endpoint_id, kind, at);
  if (!inserted.ok()) return inserted.error();
  if (*inserted == 1) return true;
  // Nothing inserted: the id is known (from this endpoint: a re-sent
  // event; from another: Conflict), or the endpoint is not.
  auto sender = conn_.query("SELECT endpoint_id FROM agent_events WHERE id = $1", "look up agent event", id);
  if (!sender.ok()) return sender.error();
  if (!sender->empty()) {
    if (sender->row(0).text_at(0) != endpoint_id) return conflict("event " + id + " was sent by another endpoint");
    return false;
  }
  return not_found("no endpoint " + endpoint_id);
}

Result<std::vector<PushMessage>> PgStore::push_after(const std::string& endpoint_id, std::uint64_t after_seq,
                                                     std::size_t limit) {
  if (auto st = check_page_limit(limit); !st.ok()) return st.error();
  return read<std::vector<PushMessage>>([&](Conn& conn) {
    return all_rows<PushMessage>(
        conn.query("SELECT seq, endpoint_id, kind, payload, created_s FROM push_messages WHERE endpoint_id = $1 AND "
                   "seq > $2 ORDER BY seq LIMIT $3",
                   "read push messages", endpoint_id, seq_param(after_seq), static_cast<std::int64_t>(limit)),
        [](const Row& r) {
          return PushMessage{static_cast<std::uint64_t>(r.int_at(0)), r.text_at(1), r.text_at(2), r.text_at(3),
                             r.time_at(4)};
        });
  });
}

}  // namespace hoist::store::pg_backend

namespace hoist::store::pg_backend {

// One statement for every cursor: the endpoints' messages found through
// `endpoint_id = ANY(...)`, joined to their cursors (unnest ... WITH
// ORDINALITY: the order asked), numbered per cursor and cut at limit_each,
// so one endpoint's long queue takes no other's share. Not a LATERAL
// subquery with a LIMIT per cursor: right after a policy change has queued
// a message for every endpoint, the table's statistics still say it is
// nearly empty, and the planner then scans the whole table once per
// cursor (measured: 8 million rows a second read for 13 s to answer
// 10,000 polls); this form reads it at most once per statement.
Result<std::vector<std::vector<PushMessage>>> PgStore::push_after_many(std::span<const PushCursor> cursors,
                                                                       std::size_t limit_each) {
  if (auto st = check_page_limit(limit_each); !st.ok()) return st.error();
  if (cursors.size() > kMaxPushCursors) {
    return invalid_argument("at most " + std::to_string(kMaxPushCursors) + " push cursors are read at once");
  }
  std::vector<std::vector<PushMessage>> out(cursors.size());
  if (cursors.empty()) return out;
  auto rows = read<Rows>([&](Conn& conn) {
    return conn.query(
        "SELECT ord, seq, endpoint_id, kind, payload, created_s FROM (SELECT w.ord, p.seq, p.endpoint_id, p.kind, "
        "p.payload, p.created_s, row_number() OVER (PARTITION BY w.ord ORDER BY p.seq) AS n FROM unnest($1::TEXT[], "
        "$2::BIGINT[]) WITH ORDINALITY AS w(endpoint_id, after_seq, ord) JOIN push_messages p ON p.endpoint_id = "
        "w.endpoint_id AND p.seq > w.after_seq WHERE p.endpoint_id = ANY($1::TEXT[])) m WHERE n <= $3 ORDER BY ord, "
        "seq",
        "read push messages of several endpoints", endpoint_array(cursors), seq_array(cursors),
        static_cast<std::int64_t>(limit_each));
  });
  if (!rows.ok()) return rows.error();
  for (int i = 0; i < rows->size(); ++i) {
    const Row r = rows->row(i);
    const auto ord = r.int_at(0);
    if (ord < 1 || static_cast<std::size_t>(ord) > out.size()) {
      return internal_error("the database answered a push cursor that was not asked for");
    }
    out[static_cast<std::size_t>(ord - 1)].push_back(
        PushMessage{static_cast<std::uint64_t>(r.int_at(1)), r.text_at(2), r.text_at(3), r.text_at(4), r.time_at(5)});
  }
  return out;
}

}  // namespace hoist::store::pg_backend
