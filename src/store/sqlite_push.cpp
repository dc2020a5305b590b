// The push queue and the ids of agents' uploaded events in SQLite
// (push.h).
#include "store/sqlite_backend.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hoist::store::sqlite_backend {

Result<PushMessage> SqliteTx::enqueue_push(const std::string& endpoint_id, const std::string& kind,
                                           const std::string& payload, TimePoint at) {
  if (kind.empty()) return invalid_argument("a push message needs a kind");
  auto s = store_.prepare("INSERT INTO push_messages (endpoint_id, kind, payload, created_s) VALUES (?, ?, ?, ?)");
  if (!s.ok()) return s.error();
  s->bind_text(1, endpoint_id);
  s->bind_text(2, kind);
  s->bind_text(3, payload);
  s->bind_time(4, at);
  if (auto ran = s->run("queue push message"); !ran.ok()) {
    if (store_.db().foreign_key_failed()) {
      return not_found("no endpoint " + endpoint_id + " to push to");
    }
    return ran.error();
  }
  return PushMessage{static_cast<std::uint64_t>(store_.db().last_insert_rowid()), endpoint_id, kind, payload, at};
}

Status SqliteTx::acknowledge_push(const std::string& endpoint_id, std::uint64_t seq) {
  auto changed = store_.execute("DELETE FROM push_messages WHERE endpoint_id = ? AND seq <= ?",
                                "acknowledge push messages", std::string_view(endpoint_id),
                                static_cast<std::int64_t>(std::min<std::uint64_t>(seq, INT64_MAX)));  // never negative
  return changed.ok() ? Status{} : Status{changed.error()};
}

Result<bool> SqliteTx::record_agent_event(const std::string& id, const std::string& endpoint_id,
                                          const std::string& kind, TimePoint at) {
  if (id.empty() || kind.empty()) return invalid_argument("an agent event needs an id and a kind");
  {
    auto s = store_.prepare("SELECT endpoint_id FROM agent_events WHERE id = ?");
    if (!s.ok()) return s.error();
    s->bind_text(1, id);
    auto row = s->step("look up agent event");
    if (!row.ok()) return row.error();
    if (*row) {
      if (s->text_at(0) != endpoint_id) {
        return conflict("event " + id + " was sent by another endpoint");
      }
      return false;
    }
  }
  auto s = store_.prepare("INSERT INTO agent_events (id, endpoint_id, kind, received_s) VALUES (?, ?, ?, ?)");
  if (!s.ok()) return s.error();
  s->bind_text(1, id);
  s->bind_text(2, endpoint_id);
  s->bind_text(3, kind);
  s->bind_time(4, at);
  auto ran = s->run("record agent event");
  if (ran.ok()) return true;
  if (store_.db().foreign_key_failed()) {
    return not_found("no endpoint " + endpoint_id);
  }
  return ran.error();
}

namespace {

// One endpoint's page, on a freshly lent statement, with the store's lock
// held by the caller.
Result<std::vector<PushMessage>> read_push_page(Stmt& s, const std::string& endpoint_id, std::uint64_t after_seq,
                                                std::size_t limit) {
  s.bind_text(1, endpoint_id);
  s.bind_int(2, static_cast<std::int64_t>(std::min<std::uint64_t>(after_seq, INT64_MAX)));
  s.bind_int(3, static_cast<std::int64_t>(limit));
  std::vector<PushMessage> out;
  for (;;) {
    auto row = s.step("read push messages");
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(
        PushMessage{static_cast<std::uint64_t>(s.int_at(0)), s.text_at(1), s.text_at(2), s.text_at(3), s.time_at(4)});
  }
  return out;
}

constexpr const char* kPushPageSql =
    "SELECT seq, endpoint_id, kind, payload, created_s FROM push_messages WHERE endpoint_id = ? AND seq > ? ORDER BY "
    "seq LIMIT ?";

}  // namespace

Result<std::vector<PushMessage>> SqliteStore::push_after(const std::string& endpoint_id, std::uint64_t after_seq,
                                                         std::size_t limit) {
  if (auto st = check_page_limit(limit); !st.ok()) return st.error();
  std::lock_guard lock(mu_);
  auto s = prepare(kPushPageSql);
  if (!s.ok()) return s.error();
  return read_push_page(*s, endpoint_id, after_seq, limit);
}

// One lock and one cached statement for all of them: the pages are read
// one after the other, with no write between them.
Result<std::vector<std::vector<PushMessage>>> SqliteStore::push_after_many(std::span<const PushCursor> cursors,
                                                                           std::size_t limit_each) {
  if (auto st = check_page_limit(limit_each); !st.ok()) return st.error();
  if (cursors.size() > kMaxPushCursors) {
    return invalid_argument("at most " + std::to_string(kMaxPushCursors) + " push cursors are read at once");
  }
  std::vector<std::vector<PushMessage>> out;
  out.reserve(cursors.size());
  if (cursors.empty()) return out;
  std::lock_guard lock(mu_);
  for (const auto& c : cursors) {
    auto s = prepare(kPushPageSql);  // the cached statement, reset when given back
    if (!s.ok()) return s.error();
    auto page = read_push_page(*s, c.endpoint_id, c.after_seq, limit_each);
    if (!page.ok()) return page.error();
    out.push_back(std::move(*page));
  }
  return out;
}

}  // namespace hoist::store::sqlite_backend
