// The SQLite backend: opening the file, write transactions, and what the
// files of each kind of record share (sqlite_backend.h).
#include "store/sqlite_store.h"

#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "sqlite/db.h"
#include "store/sqlite_backend.h"

namespace hoist::store {

namespace sqlite_backend {

Status check_page_limit(std::size_t limit) {
  if (limit == 0 || limit > kMaxPage) return invalid_argument(fmt::format("limit must be between 1 and {}", kMaxPage));
  return {};
}

Result<std::vector<std::string>> read_labels(Db& db, const LabelTable& table, const std::string& id) {
  auto s = db.prepare(table.select);
  if (!s.ok()) return s.error();
  s->bind_text(1, id);
  std::vector<std::string> out;
  for (;;) {
    auto row = s->step("read labels");
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(s->text_at(0));
  }
  return out;
}

Status write_labels(Db& db, const LabelTable& table, const std::string& id, const std::vector<std::string>& labels) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    auto s = db.prepare(table.insert);
    if (!s.ok()) return s.error();
    s->bind_text(1, id);
    s->bind_int(2, static_cast<std::int64_t>(i));
    s->bind_text(3, labels[i]);
    if (auto st = s->run("store labels"); !st.ok()) return st;
  }
  return {};
}

Status SqliteStore::write(const std::function<Status(StoreTx&)>& fn) {
  std::lock_guard lock(mu_);
  SqliteTx tx(*this);
  if (auto st = db_->write([&] { return fn(tx); }); !st.ok()) return st;
  if (tx.appended()) committed_head_ = tx.appended();
  return {};
}

Status SqliteStore::write_unsynced(const std::function<Status(StoreTx&)>& fn) {
  std::lock_guard lock(mu_);
  SqliteTx tx(*this);
  return db_->write_unsynced([&]() -> Status {
    if (auto st = fn(tx); !st.ok()) return st;
    if (tx.appended()) return internal_error("an audit event cannot be appended in an unsynced write (this is a bug)");
    return {};
  });
}

}  // namespace sqlite_backend

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, const SqliteOptions& options) {
  sqlite::Options db_options;
  db_options.create = true;
  db_options.busy_timeout_ms = options.busy_timeout_ms;
  db_options.statement_cache_size = options.statement_cache_size;
  db_options.damaged_advice = "the file is damaged: stop hoistd, move the file aside and restore it from a backup";
  auto db = sqlite::Db::open(path, db_options);
  if (!db.ok()) return db.error();
  auto store = std::make_unique<sqlite_backend::SqliteStore>(std::move(*db));
  // A new file has no schema_migrations table yet: version 0.
  const auto before = store->schema_version();
  const int from = before.ok() ? *before : 0;
  if (auto st = store->migrate(options.migrate_to); !st.ok()) {
    return Error{st.error().code, fmt::format("{}: {}", path, st.error().message)};
  }
  if (const auto after = store->schema_version(); after.ok() && *after > from && options.on_migrated) {
    options.on_migrated(from, *after);
  }
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace hoist::store
