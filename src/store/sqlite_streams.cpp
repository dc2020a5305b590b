// The cursors of the audit trail's streams in SQLite (streams.h).
#include "store/sqlite_backend.h"

#include <cstdint>
#include <string>

namespace hoist::store::sqlite_backend {

Status SqliteTx::set_stream_cursor(const std::string& name, std::uint64_t seq, TimePoint at) {
  if (name.empty()) return invalid_argument("a stream needs a name");
  {
    auto s = store_.prepare("SELECT seq FROM stream_cursors WHERE name = ?");
    if (!s.ok()) return s.error();
    s->bind_text(1, name);
    auto row = s->step("read a stream's cursor");
    if (!row.ok()) return row.error();
    if (*row && static_cast<std::uint64_t>(s->int_at(0)) > seq) {
      return invalid_argument("stream " + name + " is past event " + std::to_string(seq) + " already");
    }
  }
  auto changed = store_.execute(
      "INSERT INTO stream_cursors (name, seq, updated_s) VALUES (?, ?, ?) "
      "ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, updated_s = excluded.updated_s",
      "move a stream's cursor", std::string_view(name), static_cast<std::int64_t>(seq),
      static_cast<std::int64_t>(at.time_since_epoch().count()));
  return changed.ok() ? Status{} : Status{changed.error()};
}

Result<std::uint64_t> SqliteStore::stream_cursor(const std::string& name) {
  const std::lock_guard lock(mu_);
  auto s = prepare("SELECT seq FROM stream_cursors WHERE name = ?");
  if (!s.ok()) return s.error();
  s->bind_text(1, name);
  auto row = s->step("read a stream's cursor");
  if (!row.ok()) return row.error();
  if (!*row) return std::uint64_t{0};
  return static_cast<std::uint64_t>(s->int_at(0));
}

}  // namespace hoist::store::sqlite_backend
