// The notification outbox in SQLite (outbox.h): channels with their routing
// in notify_channel_events, deliveries in notify_deliveries, and where a
// chat channel posted about a request in notify_message_refs. The rows of
// an event are queued by append_audit (enqueue_routed, below) in the
// event's own transaction. Times are Unix milliseconds.
#include "store/sqlite_backend.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hoist::store {

bool routes_action(const std::vector<std::string>& events, std::string_view action) {
  for (const auto& pattern : events) {
    if (pattern == "*" || pattern == action) return true;
    if (pattern.size() > 2 && pattern.ends_with(".*") &&
        action.starts_with(std::string_view(pattern).substr(0, pattern.size() - 1))) {
      return true;
    }
  }
  return false;
}

namespace sqlite_backend {

namespace {

constexpr std::string_view kChannelColumns =
    "id, kind, name, config, secrets, enabled, version, created_by, created_ms, updated_ms";
constexpr std::string_view kDeliveryColumns =
    "id, channel_id, audit_seq, state, attempts, next_attempt_ms, since_ms, last_error, last_status, created_ms, "
    "finished_ms";

constexpr LabelTable kChannelEvents{
    "SELECT pattern FROM notify_channel_events WHERE channel_id = ? ORDER BY position",
    "INSERT INTO notify_channel_events (channel_id, position, pattern) VALUES (?, ?, ?)"};
constexpr LabelTable kChannelLabels{"SELECT label FROM notify_channel_labels WHERE channel_id = ? ORDER BY position",
                                    "INSERT INTO notify_channel_labels (channel_id, position, label) VALUES (?, ?, ?)"};
constexpr LabelTable kChannelRules{"SELECT rule FROM notify_channel_rules WHERE channel_id = ? ORDER BY position",
                                   "INSERT INTO notify_channel_rules (channel_id, position, rule) VALUES (?, ?, ?)"};

std::int64_t ms(AuditTime t) {
  return t.time_since_epoch().count();
}
AuditTime at_ms(std::int64_t v) {
  return AuditTime{std::chrono::milliseconds{v}};
}

Result<std::vector<ChannelRecord>> query_channels(Db& db, Stmt& s, bool routing) {
  std::vector<ChannelRecord> out;
  for (;;) {
    auto row = s.step("read notification channels");
    if (!row.ok()) return row.error();
    if (!*row) break;
    ChannelRecord c;
    c.id = s.text_at(0);
    c.kind = s.text_at(1);
    c.name = s.text_at(2);
    c.config = s.text_at(3);
    c.secrets = s.text_at(4);
    c.enabled = s.int_at(5) != 0;
    c.version = s.int_at(6);
    c.created_by = s.text_at(7);
    c.created_at = at_ms(s.int_at(8));
    c.updated_at = at_ms(s.int_at(9));
    out.push_back(std::move(c));
  }
  for (auto& c : out) {
    auto events = read_labels(db, kChannelEvents, c.id);
    if (!events.ok()) return events.error();
    c.events = std::move(*events);
    if (!routing) continue;
    auto labels = read_labels(db, kChannelLabels, c.id);
    if (!labels.ok()) return labels.error();
    c.labels = std::move(*labels);
    auto rules = read_labels(db, kChannelRules, c.id);
    if (!rules.ok()) return rules.error();
    c.rules = std::move(*rules);
  }
  return out;
}

Result<std::vector<DeliveryRecord>> query_deliveries(Stmt& s) {
  std::vector<DeliveryRecord> out;
  for (;;) {
    auto row = s.step("read deliveries");
    if (!row.ok()) return row.error();
    if (!*row) break;
    DeliveryRecord d;
    d.id = s.int_at(0);
    d.channel_id = s.text_at(1);
    d.audit_seq = static_cast<std::uint64_t>(s.int_at(2));
    // The column's CHECK admits only the three states.
    d.state = outbox::parse_delivery_state(s.text_at(3)).value_or(outbox::DeliveryState::kDead);
    d.attempts = s.int_at(4);
    d.next_attempt_at = at_ms(s.int_at(5));
    d.since = at_ms(s.int_at(6));
    d.last_error = s.text_at(7);
    if (auto status = s.opt_int_at(8)) d.last_status = static_cast<int>(*status);
    d.created_at = at_ms(s.int_at(9));
    if (auto f = s.opt_int_at(10)) d.finished_at = at_ms(*f);
    out.push_back(std::move(d));
  }
  return out;
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

Status SqliteTx::write_routing(const ChannelRecord& c, bool replace) {
  if (replace) {
    for (const char* table : {"notify_channel_events", "notify_channel_labels", "notify_channel_rules"}) {
      if (!store_.has_routing() && std::string_view(table) != "notify_channel_events") continue;
      if (auto del = store_.execute(fmt::format("DELETE FROM {} WHERE channel_id = ?", table), "update channel routing",
                                    std::string_view(c.id));
          !del.ok()) {
        return del.error();
      }
    }
  }
  if (auto st = write_labels(store_.db(), kChannelEvents, c.id, c.events); !st.ok()) return st;
  if (!store_.has_routing()) {
    if (!c.labels.empty() || !c.rules.empty()) {
      return unavailable("this database's schema routes by events only: migrate it (hoistd migrates at start)");
    }
    return {};
  }
  if (auto st = write_labels(store_.db(), kChannelLabels, c.id, c.labels); !st.ok()) return st;
  return write_labels(store_.db(), kChannelRules, c.id, c.rules);
}

Result<std::optional<ChannelRecord>> SqliteStore::channel_locked(const std::string& id) {
  auto s = prepare(fmt::format("SELECT {} FROM notify_channels WHERE id = ?", kChannelColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, id);
  return first_row(query_channels(*db_, *s, has_routing_));
}

Result<std::optional<DeliveryRecord>> SqliteStore::delivery_locked(std::int64_t id) {
  auto s = prepare(fmt::format("SELECT {} FROM notify_deliveries WHERE id = ?", kDeliveryColumns));
  if (!s.ok()) return s.error();
  s->bind_int(1, id);
  return first_row(query_deliveries(*s));
}

Status SqliteStore::enqueue_routed_locked(const AuditEvent& event) {
  if (!has_outbox_) return {};
  // One statement, whatever the number of channels: the request path pays
  // for index lookups, not a loop. A channel without labels or rules skips
  // those lookups (the NOT EXISTS is true at once).
  constexpr std::string_view kByAction =
      "INSERT INTO notify_deliveries (channel_id, audit_seq, state, attempts, next_attempt_ms, since_ms, last_error, "
      "created_ms) SELECT DISTINCT c.id, ?1, 'pending', 0, ?2, ?2, '', ?2 FROM notify_channels c JOIN "
      "notify_channel_events r ON r.channel_id = c.id WHERE c.enabled = 1 AND (r.pattern = '*' OR r.pattern = ?3 OR "
      "(substr(r.pattern, -2) = '.*' AND substr(?3, 1, length(r.pattern) - 1) = substr(r.pattern, 1, "
      "length(r.pattern) - 1)))";
  // Labels are those of the endpoint a request was made on (its row says
  // which), or for an event about no request, of the endpoints with the
  // event's host name: an endpoint that enrols under another's host name
  // cannot put its requests into that one's channels.
  constexpr std::string_view kByLabelAndRule =
      " AND (NOT EXISTS (SELECT 1 FROM notify_channel_labels l WHERE l.channel_id = c.id) OR EXISTS (SELECT 1 FROM "
      "notify_channel_labels l JOIN endpoint_labels el ON el.label = l.label JOIN endpoints e ON e.id = "
      "el.endpoint_id WHERE l.channel_id = c.id AND e.retired_s IS NULL AND (e.id = (SELECT q.endpoint_id FROM "
      "requests q WHERE q.id = ?5) OR (NOT EXISTS (SELECT 1 FROM requests q WHERE q.id = ?5) AND e.hostname = ?4)))) "
      "AND (NOT EXISTS (SELECT 1 FROM notify_channel_rules x WHERE x.channel_id = c.id) OR EXISTS (SELECT 1 FROM "
      "notify_channel_rules x JOIN requests q ON q.rule = x.rule WHERE x.channel_id = c.id AND q.id = ?5))";
  static const std::string kRouted = std::string(kByAction) + std::string(kByLabelAndRule);
  auto ran = has_routing_
                 ? execute(kRouted, "queue notifications", static_cast<std::int64_t>(event.seq), ms(event.time),
                           std::string_view(event.action), std::string_view(event.host), std::string_view(event.target))
                 : execute(kByAction, "queue notifications", static_cast<std::int64_t>(event.seq), ms(event.time),
                           std::string_view(event.action));
  return ran.ok() ? Status{} : Status{ran.error()};
}

Result<ChannelRecord> SqliteTx::insert_channel(const ChannelRecord& c) {
  if (auto st = check_channel(c); !st.ok()) return st.error();
  auto s = store_.prepare(
      fmt::format("INSERT INTO notify_channels ({}) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)", kChannelColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, c.id);
  s->bind_text(2, c.kind);
  s->bind_text(3, c.name);
  s->bind_text(4, c.config);
  s->bind_text(5, c.secrets);
  s->bind_int(6, c.enabled ? 1 : 0);
  s->bind_text(7, c.created_by);
  s->bind_int(8, ms(c.created_at));
  s->bind_int(9, ms(c.created_at));
  if (auto ran = s->run("store notification channel"); !ran.ok()) {
    if (ran.error().code == ErrorCode::kConflict) {
      return conflict(fmt::format("a notification channel named \"{}\" (or with id {}) exists already", c.name, c.id));
    }
    return ran.error();
  }
  if (auto st = write_routing(c, false); !st.ok()) return st.error();
  auto stored = store_.channel_locked(c.id);
  if (!stored.ok()) return stored.error();
  if (!*stored) return internal_error("a channel just stored is missing (this is a bug)");
  return std::move(**stored);
}

Result<ChannelRecord> SqliteTx::update_channel(const ChannelRecord& c, AuditTime at) {
  if (auto st = check_channel(c); !st.ok()) return st.error();
  auto s = store_.prepare(
      "UPDATE notify_channels SET name = ?, config = ?, secrets = ?, enabled = ?, version = version + 1, updated_ms = "
      "? WHERE id = ? AND version = ?");
  if (!s.ok()) return s.error();
  s->bind_text(1, c.name);
  s->bind_text(2, c.config);
  s->bind_text(3, c.secrets);
  s->bind_int(4, c.enabled ? 1 : 0);
  s->bind_int(5, ms(at));
  s->bind_text(6, c.id);
  s->bind_int(7, c.version);
  if (auto ran = s->run("update notification channel " + c.id); !ran.ok()) {
    if (ran.error().code == ErrorCode::kConflict) {
      return conflict(fmt::format("a notification channel named \"{}\" exists already", c.name));
    }
    return ran.error();
  }
  const bool changed = store_.db().changes() == 1;
  if (changed) {
    if (auto st = write_routing(c, true); !st.ok()) return st.error();
  }
  auto stored = store_.channel_locked(c.id);
  if (!stored.ok()) return stored.error();
  if (!*stored) return not_found("no notification channel " + c.id);
  if (!changed) {
    return conflict(fmt::format("channel {} changed meanwhile (version {} is stored, {} was read): reload and retry",
                                c.id, (*stored)->version, c.version));
  }
  return std::move(**stored);
}

Result<std::size_t> SqliteTx::delete_channel(const std::string& id) {
  auto pending = store_.prepare("SELECT COUNT(*) FROM notify_deliveries WHERE channel_id = ? AND state = 'pending'");
  if (!pending.ok()) return pending.error();
  pending->bind_text(1, id);
  auto row = pending->step("count pending deliveries");
  if (!row.ok()) return row.error();
  const auto count = static_cast<std::size_t>(*row ? pending->int_at(0) : 0);
  // The deliveries and routing rows go with it (ON DELETE CASCADE).
  auto del =
      store_.execute("DELETE FROM notify_channels WHERE id = ?", "delete notification channel", std::string_view(id));
  if (!del.ok()) return del.error();
  if (*del == 0) return not_found("no notification channel " + id);
  return count;
}

Result<std::optional<ChannelRecord>> SqliteTx::get_channel(const std::string& id) {
  return store_.channel_locked(id);
}

Result<DeliveryRecord> SqliteTx::enqueue_delivery(const std::string& channel_id, std::uint64_t audit_seq,
                                                  AuditTime at) {
  {
    auto s = store_.prepare("SELECT 1 FROM audit_events WHERE seq = ?");
    if (!s.ok()) return s.error();
    s->bind_int(1, static_cast<std::int64_t>(audit_seq));
    auto row = s->step("look up audit event");
    if (!row.ok()) return row.error();
    if (!*row) return not_found(fmt::format("no audit event #{}", audit_seq));
  }
  auto ran = store_.execute(
      "INSERT INTO notify_deliveries (channel_id, audit_seq, state, attempts, next_attempt_ms, since_ms, last_error, "
      "created_ms) VALUES (?, ?, 'pending', 0, ?, ?, '', ?) ON CONFLICT (channel_id, audit_seq) DO NOTHING",
      "queue a delivery", std::string_view(channel_id), static_cast<std::int64_t>(audit_seq), ms(at), ms(at), ms(at));
  if (!ran.ok()) {
    if (store_.db().foreign_key_failed()) return not_found("no notification channel " + channel_id);
    return ran.error();
  }
  auto s = store_.prepare(
      fmt::format("SELECT {} FROM notify_deliveries WHERE channel_id = ? AND audit_seq = ?", kDeliveryColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, channel_id);
  s->bind_int(2, static_cast<std::int64_t>(audit_seq));
  auto rows = first_row(query_deliveries(*s));
  if (!rows.ok()) return rows.error();
  if (!*rows) return internal_error("a delivery just queued is missing (this is a bug)");
  return std::move(**rows);
}

Result<DeliveryRecord> SqliteTx::record_attempt(const AttemptRecord& a) {
  const char* state = a.verdict == outbox::Verdict::kDelivered ? "delivered"
                      : a.verdict == outbox::Verdict::kDead    ? "dead"
                                                               : "pending";
  const bool finished = a.verdict != outbox::Verdict::kRetry;
  auto s = store_.prepare(
      "UPDATE notify_deliveries SET state = ?, attempts = attempts + 1, next_attempt_ms = ?, last_error = ?, "
      "last_status = ?, finished_ms = ? WHERE id = ? AND state = 'pending'");
  if (!s.ok()) return s.error();
  s->bind_text(1, state);
  s->bind_int(2, ms(finished ? a.at : a.next_attempt_at));
  s->bind_text(3, a.verdict == outbox::Verdict::kDelivered ? std::string() : a.error);
  if (a.status) {
    s->bind_int(4, *a.status);
  } else {
    s->bind_null(4);
  }
  if (finished) {
    s->bind_int(5, ms(a.at));
  } else {
    s->bind_null(5);
  }
  s->bind_int(6, a.delivery_id);
  if (auto ran = s->run("record a delivery attempt"); !ran.ok()) return ran.error();
  const bool changed = store_.db().changes() == 1;
  auto stored = store_.delivery_locked(a.delivery_id);
  if (!stored.ok()) return stored.error();
  if (!*stored) return not_found(fmt::format("no delivery {}", a.delivery_id));
  if (!changed) {
    return conflict(fmt::format("delivery {} is {}, no longer pending", a.delivery_id, to_string((*stored)->state)));
  }
  return std::move(**stored);
}

Result<DeliveryRecord> SqliteTx::redrive_delivery(std::int64_t id, AuditTime at) {
  auto ran = store_.execute(
      "UPDATE notify_deliveries SET state = 'pending', attempts = 0, next_attempt_ms = ?, since_ms = ?, finished_ms "
      "= NULL WHERE id = ? AND state = 'dead'",
      "re-drive a delivery", ms(at), ms(at), id);
  if (!ran.ok()) return ran.error();
  auto stored = store_.delivery_locked(id);
  if (!stored.ok()) return stored.error();
  if (!*stored) return not_found(fmt::format("no delivery {}", id));
  if (*ran == 0) {
    return conflict(
        fmt::format("delivery {} is {}: only a dead one can be re-driven", id, to_string((*stored)->state)));
  }
  return std::move(**stored);
}

Result<MessageRef> SqliteTx::put_message_ref(const MessageRef& r) {
  if (r.channel_id.empty() || r.subject.empty() || r.ref.empty()) {
    return invalid_argument("a message reference needs a channel, a subject and a reference");
  }
  if (r.ref.size() > kMaxMessageRefBytes) {
    return invalid_argument(fmt::format("a message reference is at most {} bytes", kMaxMessageRefBytes));
  }
  auto ran = store_.execute(
      "INSERT INTO notify_message_refs (channel_id, subject, ref, updated_ms) VALUES (?, ?, ?, ?) ON CONFLICT "
      "(channel_id, subject) DO UPDATE SET ref = excluded.ref, updated_ms = excluded.updated_ms",
      "store a message reference", std::string_view(r.channel_id), std::string_view(r.subject), std::string_view(r.ref),
      ms(r.updated_at));
  if (!ran.ok()) {
    if (store_.db().foreign_key_failed()) return not_found("no notification channel " + r.channel_id);
    return ran.error();
  }
  return r;
}

// Each DELETE states its whole condition itself, and the inner SELECT only
// bounds the batch: a row that changed meanwhile (a dead letter re-driven
// to pending, a reference stored again) no longer matches and stays. Both
// SELECTs are range scans of an index of migration 15 (finished deliveries
// by finish time; references by time).
Result<std::size_t> SqliteTx::prune_deliveries(AuditTime before, std::size_t limit) {
  if (auto st = check_page_limit(limit); !st.ok()) return st.error();
  auto ran = store_.execute(
      "DELETE FROM notify_deliveries WHERE id IN (SELECT id FROM notify_deliveries INDEXED BY "
      "notify_deliveries_finished "
      "WHERE finished_ms < ?1 AND state IN ('delivered', 'dead') LIMIT ?2) AND finished_ms < ?1 AND state IN "
      "('delivered', 'dead')",
      "prune deliveries", ms(before), static_cast<std::int64_t>(limit));
  if (!ran.ok()) return ran.error();
  return static_cast<std::size_t>(*ran);
}

Result<std::size_t> SqliteTx::prune_message_refs(AuditTime before, std::size_t limit) {
  if (auto st = check_page_limit(limit); !st.ok()) return st.error();
  auto ran = store_.execute(
      "DELETE FROM notify_message_refs WHERE rowid IN (SELECT rowid FROM notify_message_refs WHERE updated_ms < ?1 "
      "LIMIT ?2) AND updated_ms < ?1",
      "prune message references", ms(before), static_cast<std::int64_t>(limit));
  if (!ran.ok()) return ran.error();
  return static_cast<std::size_t>(*ran);
}

Result<std::optional<ChannelRecord>> SqliteStore::channel(const std::string& id) {
  std::lock_guard lock(mu_);
  return channel_locked(id);
}

Result<std::vector<ChannelRecord>> SqliteStore::channels() {
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format("SELECT {} FROM notify_channels ORDER BY name", kChannelColumns));
  if (!s.ok()) return s.error();
  return query_channels(*db_, *s, has_routing_);
}

Result<std::optional<DeliveryRecord>> SqliteStore::delivery(std::int64_t id) {
  std::lock_guard lock(mu_);
  return delivery_locked(id);
}

Result<std::vector<DeliveryRecord>> SqliteStore::deliveries(const DeliveryFilter& f) {
  if (auto st = check_page_limit(f.limit); !st.ok()) return st.error();
  std::string sql = fmt::format("SELECT {} FROM notify_deliveries WHERE id > ?", kDeliveryColumns);
  if (f.channel_id) sql += " AND channel_id = ?";
  if (f.state) sql += " AND state = ?";
  sql += " ORDER BY id LIMIT ?";
  std::lock_guard lock(mu_);
  auto s = prepare(sql);
  if (!s.ok()) return s.error();
  int i = 1;
  s->bind_int(i++, f.after_id);
  if (f.channel_id) s->bind_text(i++, *f.channel_id);
  if (f.state) s->bind_text(i++, to_string(*f.state));
  s->bind_int(i, static_cast<std::int64_t>(f.limit));
  return query_deliveries(*s);
}

Result<std::vector<DeliveryRecord>> SqliteStore::pending_deliveries(const std::string& channel_id, std::size_t limit) {
  if (auto st = check_page_limit(limit); !st.ok()) return st.error();
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format(
      "SELECT {} FROM notify_deliveries WHERE channel_id = ? AND state = 'pending' ORDER BY audit_seq, id LIMIT ?",
      kDeliveryColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, channel_id);
  s->bind_int(2, static_cast<std::int64_t>(limit));
  return query_deliveries(*s);
}

Result<OutboxReader::DueChannels> SqliteStore::due_channels(AuditTime now) {
  std::lock_guard lock(mu_);
  // Each enabled channel's first pending delivery (by audit seq) and when
  // it is due.
  auto s = prepare(
      "SELECT c.id, (SELECT d.next_attempt_ms FROM notify_deliveries d WHERE d.channel_id = c.id AND d.state = "
      "'pending' ORDER BY d.audit_seq, d.id LIMIT 1) AS due FROM notify_channels c WHERE c.enabled = 1 ORDER BY c.id");
  if (!s.ok()) return s.error();
  DueChannels out;
  for (;;) {
    auto row = s->step("find due deliveries");
    if (!row.ok()) return row.error();
    if (!*row) break;
    const auto due = s->opt_int_at(1);
    if (!due) continue;
    if (at_ms(*due) <= now) {
      out.due.push_back(s->text_at(0));
    } else if (!out.next_due || at_ms(*due) < *out.next_due) {
      out.next_due = at_ms(*due);
    }
  }
  return out;
}

Result<std::optional<MessageRef>> SqliteStore::message_ref(const std::string& channel_id, const std::string& subject) {
  std::lock_guard lock(mu_);
  auto s = prepare("SELECT ref, updated_ms FROM notify_message_refs WHERE channel_id = ? AND subject = ?");
  if (!s.ok()) return s.error();
  s->bind_text(1, channel_id);
  s->bind_text(2, subject);
  auto row = s->step("read a message reference");
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<MessageRef>();
  return std::optional<MessageRef>(MessageRef{channel_id, subject, s->text_at(0), at_ms(s->int_at(1))});
}

}  // namespace sqlite_backend

}  // namespace hoist::store
