// The push queue and the ids of agents' uploaded events in SQLite
// (push.h).
#include "store/sqlite_backend.h"

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
  auto changed =
      store_.execute("DELETE FROM push_messages WHERE endpoint_id = ? AND seq <= ?", "acknowledge push messages",
                     std::string_view(endpoint_id), static_cast<std::int64_t>(seq));
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

Result<std::vector<PushMessage>> SqliteStore::push_after(const std::string& endpoint_id, std::uint64_t after_seq,
                                                         std::size_t limit) {
  if (auto st = check_page_limit(limit); !st.ok()) return st.error();
  std::lock_guard lock(mu_);
  auto s = prepare(
      "SELECT seq, endpoint_id, kind, payload, created_s FROM push_messages WHERE endpoint_id = ? AND seq > ? ORDER BY "
      "seq LIMIT ?");
  if (!s.ok()) return s.error();
  s->bind_text(1, endpoint_id);
  s->bind_int(2, static_cast<std::int64_t>(after_seq));
  s->bind_int(3, static_cast<std::int64_t>(limit));
  std::vector<PushMessage> out;
  for (;;) {
    auto row = s->step("read push messages");
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(PushMessage{static_cast<std::uint64_t>(s->int_at(0)), s->text_at(1), s->text_at(2), s->text_at(3),
                              s->time_at(4)});
  }
  return out;
}

}  // namespace hoist::store::sqlite_backend
