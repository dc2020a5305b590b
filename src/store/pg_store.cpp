// The PostgreSQL backend: the pool of connections, write transactions
// under the write lock, opening (with migrations), and what the files of
// each kind of record share (pg_backend.h).
#include "store/pg_store.h"

#include <fmt/format.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "pg/conn.h"
#include "store/pg_backend.h"

namespace hoist::store {

namespace pg_backend {

Status check_page_limit(std::size_t limit) {
  if (limit == 0 || limit > kMaxPage) return invalid_argument(fmt::format("limit must be between 1 and {}", kMaxPage));
  return {};
}

Result<std::vector<std::string>> read_labels(Conn& conn, const LabelTable& table, const std::string& id) {
  return all_rows<std::string>(conn.query(table.select, "read labels", id), [](const Row& r) { return r.text_at(0); });
}

Status write_labels(Conn& conn, const LabelTable& table, const std::string& id,
                    const std::vector<std::string>& labels) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    auto done = conn.execute(table.insert, "store labels", id, static_cast<std::int64_t>(i), labels[i]);
    if (!done.ok()) return done.error();
  }
  return {};
}

Result<Pool::Lease> Pool::take() {
  std::unique_lock lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + options_.round_trip_timeout;
  for (;;) {
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(conn));
    }
    if (open_ < size_) {
      ++open_;
      lock.unlock();
      auto conn = Conn::open(options_);
      if (!conn.ok()) {
        lock.lock();
        --open_;
        freed_.notify_one();
        return conn.error();
      }
      return Lease(*this, std::move(*conn));
    }
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() && open_ >= size_) {
      return unavailable(fmt::format("{}: all {} connections stayed busy for {} ms", options_.noun, size_,
                                     options_.round_trip_timeout.count()));
    }
  }
}

void Pool::give_back(std::unique_ptr<Conn> conn) {
  // A connection left inside a transaction (a caller's bug or a failed
  // ROLLBACK) is not lent again.
  const bool keep = conn->usable() && !conn->in_transaction();
  if (!keep) conn.reset();  // closed outside the lock
  std::lock_guard lock(mu_);
  if (keep) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  freed_.notify_one();
}

Status PgStore::write_tx(const std::function<Status(StoreTx&)>& fn, bool synced) {
  auto lease = pool_.take();
  if (!lease.ok()) return lease.error();
  Conn& conn = **lease;
  // BEGIN, the write lock and (for a synced write, the only kind that
  // may append to the trail) the trail's head in one round trip; an
  // unsynced one sets its commit setting instead.
  static const std::string kBeginUnsynced =
      fmt::format("BEGIN; SET LOCAL synchronous_commit = off; SELECT pg_advisory_xact_lock({})", kWriteLock);
  std::optional<std::optional<AuditEvent>> head;
  Status begun;
  if (synced) {
    auto read = begin_write_reading_head(conn);
    if (read.ok()) {
      head = std::move(*read);
    } else {
      begun = read.error();
    }
  } else {
    begun = conn.exec(kBeginUnsynced, "begin a write");
  }
  if (!begun.ok()) {
    if (conn.usable() && conn.in_transaction()) (void)conn.exec("ROLLBACK", "roll back");
    return begun;
  }
  PgTx tx(*this, conn, std::move(head));
  Status st;
  try {
    st = fn(tx);
    if (st.ok() && !synced && tx.appended()) {
      st = internal_error("an audit event cannot be appended in an unsynced write (this is a bug)");
    }
  } catch (const std::exception& e) {
    st = internal_error(fmt::format("{}: write failed: {} (this is a bug)", conn.noun(), e.what()));
  } catch (...) {
    st = internal_error(fmt::format("{}: write failed with an unknown exception (this is a bug)", conn.noun()));
  }
  if (!st.ok()) {
    if (conn.usable() && conn.in_transaction()) (void)conn.exec("ROLLBACK", "roll back");
    return st;
  }
  if (auto committed = conn.exec("COMMIT", "commit"); !committed.ok()) {
    if (!conn.usable()) {
      // The server may or may not have committed before the connection
      // went: say so rather than guess.
      return unavailable(fmt::format("{} (whether the change was stored is not known)", committed.error().message));
    }
    if (conn.in_transaction()) (void)conn.exec("ROLLBACK", "roll back");
    return committed;
  }
  if (tx.appended()) {
    std::lock_guard lock(head_mu_);
    if (!committed_head_ || committed_head_->seq < tx.appended()->seq) committed_head_ = tx.appended();
  }
  return {};
}

Status PgStore::write(const std::function<Status(StoreTx&)>& fn) {
  return write_tx(fn, true);
}

Status PgStore::write_unsynced(const std::function<Status(StoreTx&)>& fn) {
  return write_tx(fn, false);
}

}  // namespace pg_backend

Result<std::unique_ptr<Store>> open_postgres_store(const PostgresOptions& options) {
  if (auto st = pg::check_conninfo(options.conninfo); !st.ok()) return st.error();
  pg::ConnOptions conn;
  conn.conninfo = options.conninfo;
  conn.password = options.password;
  conn.application_name = options.application_name;
  conn.connect_timeout_s = options.connect_timeout_s;
  conn.round_trip_timeout = options.round_trip_timeout;
  auto store = std::make_unique<pg_backend::PgStore>(conn, options.pool_size);
  int from = 0;
  if (auto st = store->migrate(options.migrate_to, &from); !st.ok()) return st.error();
  if (const auto after = store->schema_version(); after.ok() && *after > from && options.on_migrated) {
    options.on_migrated(from, *after);
  }
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace hoist::store
