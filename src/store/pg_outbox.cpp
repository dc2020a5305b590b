// The notification outbox in PostgreSQL (outbox.h), as sqlite_outbox.cpp:
// channels with their routing in notify_channel_events, _labels and _rules,
// deliveries in notify_deliveries, and where a chat channel posted about a
// request in notify_message_refs. The rows of an event are queued by
// append_audit (insert_audit_routed, below) in the event's own transaction, from
// the routing as the database holds it then: nothing about routing is kept
// in memory, so a channel changed through another replica routes the next
// event at once. Times are Unix milliseconds.
//
// A failed statement aborts a PostgreSQL transaction, so no statement here
// is left to fail on a constraint to find a taken name or a missing
// channel: each checks first (under the write lock nothing changes between
// the check and the write) or says so in its own WHERE / ON CONFLICT.
#include <fmt/format.h>

#include <chrono>
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

constexpr std::string_view kDeliveryColumns =
    "id, channel_id, audit_seq, state, attempts, next_attempt_ms, since_ms, last_error, last_status, created_ms, "
    "finished_ms";

// The statements that share a column list, made once.
struct OutboxSql {
  std::string channel_by_id;
  std::string channels_by_name;
  std::string delivery_by_id;
  std::string deliveries_all;
  std::string deliveries_of_channel;
  std::string deliveries_in_state;
  std::string deliveries_of_channel_in_state;
  std::string pending_of_channel;
  std::string enqueue_one;
  std::string record_attempt;
  std::string redrive;
};

const OutboxSql& sql() {
  static const OutboxSql s = [] {
    // A channel with its routing, in one statement (one snapshot): the
    // three lists come back as text[] (parse_text_array).
    constexpr std::string_view kChannel =
        "SELECT c.id, c.kind, c.name, c.config, c.secrets, c.enabled, c.version, c.created_by, c.created_ms, "
        "c.updated_ms, ARRAY(SELECT e.pattern FROM notify_channel_events e WHERE e.channel_id = c.id ORDER BY "
        "e.position), ARRAY(SELECT l.label FROM notify_channel_labels l WHERE l.channel_id = c.id ORDER BY "
        "l.position), ARRAY(SELECT r.rule FROM notify_channel_rules r WHERE r.channel_id = c.id ORDER BY r.position) "
        "FROM notify_channels c";
    const auto cols = kDeliveryColumns;
    OutboxSql q;
    q.channel_by_id = fmt::format("{} WHERE c.id = $1", kChannel);
    // By name in byte order, as SQLite's BINARY collation sorts it
    // (whatever the database's collation).
    q.channels_by_name = fmt::format("{} ORDER BY c.name COLLATE \"C\"", kChannel);
    q.delivery_by_id = fmt::format("SELECT {} FROM notify_deliveries WHERE id = $1", cols);
    q.deliveries_all = fmt::format("SELECT {} FROM notify_deliveries WHERE id > $1 ORDER BY id LIMIT $2", cols);
    q.deliveries_of_channel =
        fmt::format("SELECT {} FROM notify_deliveries WHERE id > $1 AND channel_id = $2 ORDER BY id LIMIT $3", cols);
    q.deliveries_in_state =
        fmt::format("SELECT {} FROM notify_deliveries WHERE id > $1 AND state = $2 ORDER BY id LIMIT $3", cols);
    q.deliveries_of_channel_in_state = fmt::format(
        "SELECT {} FROM notify_deliveries WHERE id > $1 AND channel_id = $2 AND state = $3 ORDER BY id LIMIT $4", cols);
    q.pending_of_channel = fmt::format(
        "SELECT {} FROM notify_deliveries WHERE channel_id = $1 AND state = 'pending' ORDER BY audit_seq, id LIMIT $2",
        cols);
    // The row just queued, or the one the pair had already (the second
    // SELECT sees the table as it was before the INSERT: exactly one of the
    // two returns a row).
    q.enqueue_one = fmt::format(
        "WITH ins AS (INSERT INTO notify_deliveries (channel_id, audit_seq, state, attempts, next_attempt_ms, "
        "since_ms, last_error, created_ms) VALUES ($1, $2, 'pending', 0, $3, $3, '', $3) ON CONFLICT (channel_id, "
        "audit_seq) DO NOTHING RETURNING {0}) SELECT {0} FROM ins UNION ALL SELECT {0} FROM notify_deliveries WHERE "
        "channel_id = $1 AND audit_seq = $2",
        cols);
    // $2 is when it is next due, or for a finished one when it finished.
    // (Each parameter used twice says its type: PostgreSQL deduces one per
    // use otherwise.)
    q.record_attempt = fmt::format(
        "UPDATE notify_deliveries SET state = $1::text, attempts = attempts + 1, next_attempt_ms = $2::bigint, "
        "last_error = $3, last_status = $4, finished_ms = CASE WHEN $1::text = 'pending' THEN NULL ELSE $2::bigint "
        "END WHERE id = $5 AND state = 'pending' RETURNING {}",
        cols);
    q.redrive = fmt::format(
        "UPDATE notify_deliveries SET state = 'pending', attempts = 0, next_attempt_ms = $1, since_ms = $1, "
        "finished_ms = NULL WHERE id = $2 AND state = 'dead' RETURNING {}",
        cols);
    return q;
  }();
  return s;
}

// One statement, whatever the number of channels (as SQLite's): a channel
// takes the event when one of its patterns takes the action (routes_action:
// "*", the action itself, or a "prefix.*" longer than ".*" whose prefix,
// dot included, starts the action), and then its labels and rules, when it
// has any, narrow it. Labels are those of the endpoint a request was made
// on (its row says which), or for an event about no request, of the
// endpoints with the event's host name: an endpoint that enrols under
// another's host name cannot put its requests into that one's channels.
// $1 seq, $2 time (ms), $3 action, $4 host, $5 target.
constexpr std::string_view kEnqueueRouted =
    "INSERT INTO notify_deliveries (channel_id, audit_seq, state, attempts, next_attempt_ms, since_ms, last_error, "
    "created_ms) SELECT c.id, $1::bigint, 'pending', 0, $2::bigint, $2::bigint, '', $2::bigint FROM notify_channels c "
    "WHERE c.enabled = 1 AND EXISTS (SELECT 1 FROM notify_channel_events r WHERE r.channel_id = c.id AND (r.pattern = "
    "'*' OR r.pattern = $3::text OR (length(r.pattern) > 2 AND right(r.pattern, 2) = '.*' AND starts_with($3::text, "
    "left(r.pattern, -1))))) AND (NOT EXISTS (SELECT 1 FROM notify_channel_labels l WHERE l.channel_id = c.id) OR "
    "EXISTS (SELECT 1 FROM notify_channel_labels l JOIN endpoint_labels el ON el.label = l.label JOIN endpoints e ON "
    "e.id = el.endpoint_id WHERE l.channel_id = c.id AND e.retired_s IS NULL AND (e.id = (SELECT q.endpoint_id FROM "
    "requests q WHERE q.id = $5::text) OR (NOT EXISTS (SELECT 1 FROM requests q WHERE q.id = $5::text) AND e.hostname "
    "= $4::text)))) AND (NOT EXISTS (SELECT 1 FROM notify_channel_rules x WHERE x.channel_id = c.id) OR EXISTS (SELECT "
    "1 FROM notify_channel_rules x JOIN requests q ON q.rule = x.rule WHERE x.channel_id = c.id AND q.id = $5::text))";

constexpr LabelTable kChannelEvents{
    "SELECT pattern FROM notify_channel_events WHERE channel_id = $1 ORDER BY position",
    "INSERT INTO notify_channel_events (channel_id, position, pattern) VALUES ($1, $2, $3)"};
constexpr LabelTable kChannelLabels{
    "SELECT label FROM notify_channel_labels WHERE channel_id = $1 ORDER BY position",
    "INSERT INTO notify_channel_labels (channel_id, position, label) VALUES ($1, $2, $3)"};
constexpr LabelTable kChannelRules{"SELECT rule FROM notify_channel_rules WHERE channel_id = $1 ORDER BY position",
                                   "INSERT INTO notify_channel_rules (channel_id, position, rule) VALUES ($1, $2, $3)"};

std::int64_t ms(AuditTime t) {
  return t.time_since_epoch().count();
}
AuditTime at_ms(std::int64_t v) {
  return AuditTime{std::chrono::milliseconds{v}};
}

// A one-dimensional text[] in PostgreSQL's text output: {a,"b c","d\"e"}.
// An element is quoted when it is empty or holds a delimiter, brace, quote,
// backslash or space, and inside quotes a quote or backslash is escaped
// with a backslash. The lists here hold no NULL (their columns are NOT
// NULL).
std::vector<std::string> parse_text_array(std::string_view s) {
  std::vector<std::string> out;
  if (s.size() < 2 || s.front() != '{' || s.back() != '}') return out;
  s = s.substr(1, s.size() - 2);
  std::size_t i = 0;
  while (i < s.size()) {
    std::string v;
    if (s[i] == '"') {
      for (++i; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        v.push_back(s[i]);
      }
      ++i;  // the closing quote
    } else {
      for (; i < s.size() && s[i] != ','; ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        v.push_back(s[i]);
      }
    }
    out.push_back(std::move(v));
    ++i;  // the comma
  }
  return out;
}

ChannelRecord read_channel(const Row& r) {
  ChannelRecord c;
  c.id = r.text_at(0);
  c.kind = r.text_at(1);
  c.name = r.text_at(2);
  c.config = r.text_at(3);
  c.secrets = r.text_at(4);
  c.enabled = r.int_at(5) != 0;
  c.version = r.int_at(6);
  c.created_by = r.text_at(7);
  c.created_at = at_ms(r.int_at(8));
  c.updated_at = at_ms(r.int_at(9));
  c.events = parse_text_array(r.text_at(10));
  c.labels = parse_text_array(r.text_at(11));
  c.rules = parse_text_array(r.text_at(12));
  return c;
}

DeliveryRecord read_delivery(const Row& r) {
  DeliveryRecord d;
  d.id = r.int_at(0);
  d.channel_id = r.text_at(1);
  d.audit_seq = static_cast<std::uint64_t>(r.int_at(2));
  // The column's CHECK admits only the three states.
  d.state = outbox::parse_delivery_state(r.text_at(3)).value_or(outbox::DeliveryState::kDead);
  d.attempts = r.int_at(4);
  d.next_attempt_at = at_ms(r.int_at(5));
  d.since = at_ms(r.int_at(6));
  d.last_error = r.text_at(7);
  if (auto status = r.opt_int_at(8)) d.last_status = static_cast<int>(*status);
  d.created_at = at_ms(r.int_at(9));
  if (auto f = r.opt_int_at(10)) d.finished_at = at_ms(*f);
  return d;
}

Result<std::optional<ChannelRecord>> channel_on(Conn& conn, const std::string& id) {
  return first_row<ChannelRecord>(conn.query(sql().channel_by_id, "read a notification channel", id), read_channel);
}

Result<std::optional<DeliveryRecord>> delivery_on(Conn& conn, std::int64_t id) {
  return first_row<DeliveryRecord>(conn.query(sql().delivery_by_id, "read a delivery", id), read_delivery);
}

Status check_channel(const ChannelRecord& c) {
  if (c.id.empty() || c.kind.empty() || c.name.empty()) {
    return invalid_argument("a notification channel needs an id, a kind and a name");
  }
  if (c.config.empty() || c.config.front() != '{') {
    return invalid_argument("a notification channel's config must be a JSON object");
  }
  for (const auto* list : {&c.labels, &c.rules}) {
    for (const auto& v : *list) {
      if (v.empty()) return invalid_argument("a channel's labels and rules are not empty");
    }
  }
  return {};
}

}  // namespace

Status PgTx::write_routing(const ChannelRecord& c, bool replace) {
  if (replace) {
    auto del = conn_.execute(
        "WITH e AS (DELETE FROM notify_channel_events WHERE channel_id = $1), l AS (DELETE FROM notify_channel_labels "
        "WHERE channel_id = $1) DELETE FROM notify_channel_rules WHERE channel_id = $1",
        "update channel routing", c.id);
    if (!del.ok()) return del.error();
  }
  if (auto st = write_labels(conn_, kChannelEvents, c.id, c.events); !st.ok()) return st;
  if (auto st = write_labels(conn_, kChannelLabels, c.id, c.labels); !st.ok()) return st;
  return write_labels(conn_, kChannelRules, c.id, c.rules);
}

Status PgStore::insert_audit_routed(Conn& conn, const AuditEvent& event) {
  // The event is inserted whether or not a channel takes it (a
  // data-modifying WITH runs once, read or not); its deliveries' EXISTS
  // only orders the two. kEnqueueRouted's $1-$5 keep their meaning.
  static const std::string kInsertRouted = fmt::format(
      "WITH ev AS (INSERT INTO audit_events (seq, time_ms, actor, action, target, host, details, prev_hash, hash) "
      "VALUES ($1, $2, $6, $3, $5, $4, $7, $8, $9) RETURNING seq) {} AND EXISTS (SELECT 1 FROM ev)",
      kEnqueueRouted);
  auto ran = conn.execute(kInsertRouted, "append audit event", static_cast<std::int64_t>(event.seq), ms(event.time),
                          event.action, event.host, event.target, event.actor, event.details, event.prev_hash.hex(),
                          event.hash.hex());
  return ran.ok() ? Status{} : Status{ran.error()};
}

Result<ChannelRecord> PgTx::insert_channel(const ChannelRecord& c) {
  if (auto st = check_channel(c); !st.ok()) return st.error();
  // A taken id or name inserts nothing (and aborts nothing).
  auto ran = conn_.execute(
      "INSERT INTO notify_channels (id, kind, name, config, secrets, enabled, version, created_by, created_ms, "
      "updated_ms) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $8) ON CONFLICT DO NOTHING",
      "store notification channel", c.id, c.kind, c.name, c.config, c.secrets, c.enabled, c.created_by,
      ms(c.created_at));
  if (!ran.ok()) return ran.error();
  if (*ran == 0) {
    return conflict(fmt::format("a notification channel named \"{}\" (or with id {}) exists already", c.name, c.id));
  }
  if (auto st = write_routing(c, false); !st.ok()) return st.error();
  auto stored = channel_on(conn_, c.id);
  if (!stored.ok()) return stored.error();
  if (!*stored) return internal_error("a channel just stored is missing (this is a bug)");
  return std::move(**stored);
}

Result<ChannelRecord> PgTx::update_channel(const ChannelRecord& c, AuditTime at) {
  if (auto st = check_channel(c); !st.ok()) return st.error();
  // The stored version and whether another channel has the name, first: the
  // UPDATE then cannot fail on the name's uniqueness.
  auto found = conn_.query(
      "SELECT c.version, EXISTS (SELECT 1 FROM notify_channels o WHERE o.name = $1 AND o.id <> c.id) FROM "
      "notify_channels c WHERE c.id = $2",
      "update notification channel " + c.id, c.name, c.id);
  if (!found.ok()) return found.error();
  if (found->empty()) return not_found("no notification channel " + c.id);
  const std::int64_t stored_version = found->row(0).int_at(0);
  if (stored_version != c.version) {
    return conflict(fmt::format("channel {} changed meanwhile (version {} is stored, {} was read): reload and retry",
                                c.id, stored_version, c.version));
  }
  if (found->row(0).text_at(1) == "t") {
    return conflict(fmt::format("a notification channel named \"{}\" exists already", c.name));
  }
  auto ran = conn_.execute(
      "UPDATE notify_channels SET name = $1, config = $2, secrets = $3, enabled = $4, version = version + 1, "
      "updated_ms = $5 WHERE id = $6 AND version = $7",
      "update notification channel " + c.id, c.name, c.config, c.secrets, c.enabled, ms(at), c.id, c.version);
  if (!ran.ok()) return ran.error();
  if (*ran != 1) return internal_error("a channel just read is missing (this is a bug)");
  if (auto st = write_routing(c, true); !st.ok()) return st.error();
  auto stored = channel_on(conn_, c.id);
  if (!stored.ok()) return stored.error();
  if (!*stored) return internal_error("a channel just stored is missing (this is a bug)");
  return std::move(**stored);
}

Result<std::size_t> PgTx::delete_channel(const std::string& id) {
  // One statement: the count reads the table as it was before the DELETE.
  // The deliveries, routing rows and message references go with the
  // channel (ON DELETE CASCADE).
  auto rows = conn_.query(
      "WITH d AS (DELETE FROM notify_channels WHERE id = $1 RETURNING id) SELECT (SELECT COUNT(*) FROM d), (SELECT "
      "COUNT(*) FROM notify_deliveries WHERE channel_id = $1 AND state = 'pending')",
      "delete notification channel", id);
  if (!rows.ok()) return rows.error();
  if (rows->empty() || rows->row(0).int_at(0) == 0) return not_found("no notification channel " + id);
  return static_cast<std::size_t>(rows->row(0).int_at(1));
}

Result<std::optional<ChannelRecord>> PgTx::get_channel(const std::string& id) {
  return channel_on(conn_, id);
}

Result<DeliveryRecord> PgTx::enqueue_delivery(const std::string& channel_id, std::uint64_t audit_seq, AuditTime at) {
  const auto seq = static_cast<std::int64_t>(audit_seq);
  auto found = conn_.query(
      "SELECT EXISTS (SELECT 1 FROM audit_events WHERE seq = $1), EXISTS (SELECT 1 FROM notify_channels WHERE id = $2)",
      "look up audit event", seq, channel_id);
  if (!found.ok()) return found.error();
  if (found->empty() || found->row(0).text_at(0) != "t") return not_found(fmt::format("no audit event #{}", audit_seq));
  if (found->row(0).text_at(1) != "t") return not_found("no notification channel " + channel_id);
  auto rows = first_row<DeliveryRecord>(conn_.query(sql().enqueue_one, "queue a delivery", channel_id, seq, ms(at)),
                                        read_delivery);
  if (!rows.ok()) return rows.error();
  if (!*rows) return internal_error("a delivery just queued is missing (this is a bug)");
  return std::move(**rows);
}

Result<DeliveryRecord> PgTx::record_attempt(const AttemptRecord& a) {
  const char* state = a.verdict == outbox::Verdict::kDelivered ? "delivered"
                      : a.verdict == outbox::Verdict::kDead    ? "dead"
                                                               : "pending";
  const bool finished = a.verdict != outbox::Verdict::kRetry;
  auto updated = first_row<DeliveryRecord>(
      conn_.query(sql().record_attempt, "record a delivery attempt", state, ms(finished ? a.at : a.next_attempt_at),
                  a.verdict == outbox::Verdict::kDelivered ? std::string() : a.error, a.status, a.delivery_id),
      read_delivery);
  if (!updated.ok()) return updated.error();
  if (*updated) return std::move(**updated);
  auto stored = delivery_on(conn_, a.delivery_id);
  if (!stored.ok()) return stored.error();
  if (!*stored) return not_found(fmt::format("no delivery {}", a.delivery_id));
  return conflict(fmt::format("delivery {} is {}, no longer pending", a.delivery_id, to_string((*stored)->state)));
}

Result<DeliveryRecord> PgTx::redrive_delivery(std::int64_t id, AuditTime at) {
  auto updated =
      first_row<DeliveryRecord>(conn_.query(sql().redrive, "re-drive a delivery", ms(at), id), read_delivery);
  if (!updated.ok()) return updated.error();
  if (*updated) return std::move(**updated);
  auto stored = delivery_on(conn_, id);
  if (!stored.ok()) return stored.error();
  if (!*stored) return not_found(fmt::format("no delivery {}", id));
  return conflict(fmt::format("delivery {} is {}: only a dead one can be re-driven", id, to_string((*stored)->state)));
}

Result<MessageRef> PgTx::put_message_ref(const MessageRef& r) {
  if (r.channel_id.empty() || r.subject.empty() || r.ref.empty()) {
    return invalid_argument("a message reference needs a channel, a subject and a reference");
  }
  if (r.ref.size() > kMaxMessageRefBytes) {
    return invalid_argument(fmt::format("a message reference is at most {} bytes", kMaxMessageRefBytes));
  }
  // Nothing is written for an unknown channel (rather than a foreign key
  // failing and aborting the transaction).
  auto ran = conn_.execute(
      "INSERT INTO notify_message_refs (channel_id, subject, ref, updated_ms) SELECT $1::text, $2::text, $3::text, "
      "$4::bigint WHERE EXISTS (SELECT 1 FROM notify_channels WHERE id = $1::text) ON CONFLICT (channel_id, subject) "
      "DO UPDATE SET ref = excluded.ref, updated_ms = excluded.updated_ms",
      "store a message reference", r.channel_id, r.subject, r.ref, ms(r.updated_at));
  if (!ran.ok()) return ran.error();
  if (*ran == 0) return not_found("no notification channel " + r.channel_id);
  return r;
}

// Each DELETE states its whole condition itself, and the inner SELECT only
// bounds the batch: a row that changed meanwhile (a dead letter re-driven
// to pending, a reference stored again) no longer matches and stays. The
// inner SELECTs are range scans of notify_deliveries_finished and
// notify_message_refs_updated.
Result<std::size_t> PgTx::prune_deliveries(AuditTime before, std::size_t limit) {
  if (auto st = check_page_limit(limit); !st.ok()) return st.error();
  auto ran = conn_.execute(
      "DELETE FROM notify_deliveries WHERE id IN (SELECT id FROM notify_deliveries WHERE finished_ms < $1 AND state IN "
      "('delivered', 'dead') LIMIT $2) AND finished_ms < $1 AND state IN ('delivered', 'dead')",
      "prune deliveries", ms(before), static_cast<std::int64_t>(limit));
  if (!ran.ok()) return ran.error();
  return static_cast<std::size_t>(*ran);
}

Result<std::size_t> PgTx::prune_message_refs(AuditTime before, std::size_t limit) {
  if (auto st = check_page_limit(limit); !st.ok()) return st.error();
  auto ran = conn_.execute(
      "DELETE FROM notify_message_refs WHERE (channel_id, subject) IN (SELECT channel_id, subject FROM "
      "notify_message_refs WHERE updated_ms < $1 LIMIT $2) AND updated_ms < $1",
      "prune message references", ms(before), static_cast<std::int64_t>(limit));
  if (!ran.ok()) return ran.error();
  return static_cast<std::size_t>(*ran);
}

Result<std::optional<ChannelRecord>> PgStore::channel(const std::string& id) {
  return read<std::optional<ChannelRecord>>([&](Conn& conn) { return channel_on(conn, id); });
}

Result<std::vector<ChannelRecord>> PgStore::channels() {
  return read<std::vector<ChannelRecord>>([](Conn& conn) {
    return all_rows<ChannelRecord>(conn.query(sql().channels_by_name, "read notification channels"), read_channel);
  });
}

Result<std::optional<DeliveryRecord>> PgStore::delivery(std::int64_t id) {
  return read<std::optional<DeliveryRecord>>([&](Conn& conn) { return delivery_on(conn, id); });
}

Result<std::vector<DeliveryRecord>> PgStore::deliveries(const DeliveryFilter& f) {
  if (auto st = check_page_limit(f.limit); !st.ok()) return st.error();
  const auto limit = static_cast<std::int64_t>(f.limit);
  return read<std::vector<DeliveryRecord>>([&](Conn& conn) {
    constexpr std::string_view kWhat = "read deliveries";
    Result<Rows> rows = [&]() -> Result<Rows> {
      if (f.channel_id && f.state) {
        return conn.query(sql().deliveries_of_channel_in_state, kWhat, f.after_id, *f.channel_id, to_string(*f.state),
                          limit);
      }
      if (f.channel_id) return conn.query(sql().deliveries_of_channel, kWhat, f.after_id, *f.channel_id, limit);
      if (f.state) return conn.query(sql().deliveries_in_state, kWhat, f.after_id, to_string(*f.state), limit);
      return conn.query(sql().deliveries_all, kWhat, f.after_id, limit);
    }();
    return all_rows<DeliveryRecord>(std::move(rows), read_delivery);
  });
}

Result<std::vector<DeliveryRecord>> PgStore::pending_deliveries(const std::string& channel_id, std::size_t limit) {
  if (auto st = check_page_limit(limit); !st.ok()) return st.error();
  return read<std::vector<DeliveryRecord>>([&](Conn& conn) {
    return all_rows<DeliveryRecord>(
        conn.query(sql().pending_of_channel, "read pending deliveries", channel_id, static_cast<std::int64_t>(limit)),
        read_delivery);
  });
}

Result<OutboxReader::DueChannels> PgStore::due_channels(AuditTime now) {
  return read<DueChannels>([&](Conn& conn) -> Result<DueChannels> {
    // Each enabled channel's first pending delivery (by audit seq) and when
    // it is due; ids in byte order, as SQLite's.
    auto rows = conn.query(
        "SELECT c.id, (SELECT d.next_attempt_ms FROM notify_deliveries d WHERE d.channel_id = c.id AND d.state = "
        "'pending' ORDER BY d.audit_seq, d.id LIMIT 1) AS due FROM notify_channels c WHERE c.enabled = 1 ORDER BY c.id "
        "COLLATE \"C\"",
        "find due deliveries");
    if (!rows.ok()) return rows.error();
    DueChannels out;
    for (int i = 0; i < rows->size(); ++i) {
      const Row r = rows->row(i);
      const auto due = r.opt_int_at(1);
      if (!due) continue;
      if (at_ms(*due) <= now) {
        out.due.push_back(r.text_at(0));
      } else if (!out.next_due || at_ms(*due) < *out.next_due) {
        out.next_due = at_ms(*due);
      }
    }
    return out;
  });
}

Result<std::optional<MessageRef>> PgStore::message_ref(const std::string& channel_id, const std::string& subject) {
  return read<std::optional<MessageRef>>([&](Conn& conn) {
    return first_row<MessageRef>(
        conn.query("SELECT ref, updated_ms FROM notify_message_refs WHERE channel_id = $1 AND subject = $2",
                   "read a message reference", channel_id, subject),
        [&](const Row& r) {
          return MessageRef{channel_id, subject, r.text_at(0), at_ms(r.int_at(1))};
        });
  });
}

}  // namespace hoist::store::pg_backend
