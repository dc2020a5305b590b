// The cursors of the audit trail's streams in PostgreSQL (streams.h).
#include <cstdint>
#include <string>

#include "store/pg_backend.h"

namespace hoist::store::pg_backend {

Status PgTx::set_stream_cursor(const std::string& name, std::uint64_t seq, TimePoint at) {
  if (name.empty()) return invalid_argument("a stream needs a name");
  // One statement: a cursor that would move back is left as it is, and
  // then no row changed (the write lock keeps anyone from moving it
  // meanwhile).
  auto changed = conn_.execute(
      "INSERT INTO stream_cursors (name, seq, updated_s) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET seq = "
      "excluded.seq, updated_s = excluded.updated_s WHERE stream_cursors.seq <= excluded.seq",
      "move a stream's cursor", name, static_cast<std::int64_t>(seq), at);
  if (!changed.ok()) return changed.error();
  if (*changed == 0) return invalid_argument("stream " + name + " is past event " + std::to_string(seq) + " already");
  return {};
}

Result<std::uint64_t> PgStore::stream_cursor(const std::string& name) {
  return read<std::uint64_t>([&](Conn& conn) -> Result<std::uint64_t> {
    auto rows = conn.query("SELECT seq FROM stream_cursors WHERE name = $1", "read a stream's cursor", name);
    if (!rows.ok()) return rows.error();
    if (rows->empty()) return std::uint64_t{0};
    return static_cast<std::uint64_t>(rows->row(0).int_at(0));
  });
}

}  // namespace hoist::store::pg_backend
