// The PostgreSQL backend: the conformance suite against a cluster this test
// starts itself (support/pg_cluster.h), one new database per case, and
// what only this backend has: migrations under a lock when replicas start
// together, the conninfo rules, and connections lost under it.
#include "store/pg_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pg/conn.h"
#include "store_conformance.h"
#include "support/pg_cluster.h"
#include "support/temp_dir.h"
#include "support/tls_test_support.h"

namespace hoist::store {
namespace {

// One cluster for the whole test program, started on first use.
hoist::testing::PgCluster& cluster() {
  static std::unique_ptr<hoist::testing::PgCluster> c = [] {
    auto made = std::make_unique<hoist::testing::PgCluster>();
    if (!made->start()) {
      ADD_FAILURE() << "cannot start a PostgreSQL cluster: " << made->error();
    }
    return made;
  }();
  return *c;
}

std::string new_database() {
  static std::atomic<int> next{0};
  const std::string name = "hoist_t" + std::to_string(::getpid()) + "_" + std::to_string(next++);
  EXPECT_TRUE(cluster().create_database(name)) << cluster().error();
  return name;
}

PostgresOptions options_for(const std::string& db) {
  PostgresOptions o;
  o.conninfo = cluster().conninfo(db);
  o.pool_size = 4;
  o.round_trip_timeout = std::chrono::seconds(10);
  return o;
}

// The conformance cases share one database, each in a schema of its own
// (search_path), which is much quicker to make than a database: the store
// never names a schema, so each case sees an empty database of its own.
pg::Conn& admin_conn() {
  static std::unique_ptr<pg::Conn> conn = [] {
    const std::string db = new_database();
    pg::ConnOptions o;
    o.conninfo = cluster().conninfo(db);
    auto c = pg::Conn::open(o);
    EXPECT_TRUE(c.ok()) << c.error().message;
    return c.ok() ? std::move(*c) : nullptr;
  }();
  return *conn;
}

PostgresOptions options_for_schema(const std::string& schema) {
  const std::string db = admin_conn().query("SELECT current_database()", "name").value().row(0).text_at(0);
  PostgresOptions o = options_for(db);
  o.conninfo += " options='-csearch_path=" + schema + "'";
  return o;
}

testing::StoreBackend postgres_backend() {
  return {"postgres",
          [](std::string& handle) -> std::unique_ptr<Store> {
            static std::atomic<int> next{0};
            handle = "case_" + std::to_string(next++);
            EXPECT_TRUE(admin_conn().exec("CREATE SCHEMA " + handle, "make a schema").ok());
            auto s = open_postgres_store(options_for_schema(handle));
            EXPECT_TRUE(s.ok()) << s.error().message;
            return s.ok() ? std::move(*s) : nullptr;
          },
          [](const std::string& handle) -> std::unique_ptr<Store> {
            auto s = open_postgres_store(options_for_schema(handle));
            EXPECT_TRUE(s.ok()) << s.error().message;
            return s.ok() ? std::move(*s) : nullptr;
          },
          [](const std::string& handle) {
            EXPECT_TRUE(admin_conn().exec("DROP SCHEMA " + handle + " CASCADE", "drop a schema").ok());
          }};
}

using testing::StoreConformance;
INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformance, ::testing::Values(postgres_backend()),
                         [](const auto& backend) { return backend.param.name; });

TEST(PostgresStore, ReplicasStartingTogetherMigrateOnce) {
  const std::string db = new_database();
  constexpr int kReplicas = 6;
  std::vector<std::thread> threads;
  std::atomic<int> opened{0};
  std::atomic<int> migrated{0};
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&] {
      auto o = options_for(db);
      o.on_migrated = [&](int, int) { ++migrated; };
      auto s = open_postgres_store(o);
      EXPECT_TRUE(s.ok()) << s.error().message;
      if (s.ok()) ++opened;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(opened, kReplicas);
  EXPECT_EQ(migrated, 1);
  std::string rows;
  ASSERT_TRUE(cluster().psql("SELECT count(*), max(version) FROM schema_migrations", &rows, db));
  EXPECT_EQ(rows,
            std::to_string(postgres_migrations().size()) + "|" + std::to_string(postgres_migrations().size()) + "\n");
}

TEST(PostgresStore, ANewerSchemaIsRefusedAndLeftAlone) {
  const std::string db = new_database();
  ASSERT_TRUE(open_postgres_store(options_for(db)).ok());
  const int newer = static_cast<int>(postgres_migrations().size()) + 1;
  ASSERT_TRUE(cluster().psql("INSERT INTO schema_migrations VALUES (" + std::to_string(newer) + ", 0)", nullptr, db));
  auto s = open_postgres_store(options_for(db));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
  EXPECT_NE(s.error().message.find("newer hoistd"), std::string::npos) << s.error().message;
  std::string rows;
  ASSERT_TRUE(cluster().psql("SELECT max(version) FROM schema_migrations", &rows, db));
  EXPECT_EQ(rows, std::to_string(newer) + "\n");
}

TEST(PostgresStore, APasswordInTheConninfoIsRefused) {
  for (const std::string conninfo :
       {"host=127.0.0.1 password=hunter2 dbname=x", "postgresql://hoist:hunter2@127.0.0.1/x",
        "postgresql://127.0.0.1/x?password=hunter2"}) {
    PostgresOptions o;
    o.conninfo = conninfo;
    auto s = open_postgres_store(o);
    ASSERT_FALSE(s.ok()) << conninfo;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(s.error().message.find("hunter2"), std::string::npos) << s.error().message;
  }
}

TEST(PostgresStore, AnUnreachableServerIsUnavailableSoon) {
  PostgresOptions o;
  o.conninfo = "host=127.0.0.1 port=1 user=hoist dbname=x";
  o.connect_timeout_s = 2;
  const auto start = std::chrono::steady_clock::now();
  auto s = open_postgres_store(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable) << s.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// Two replicas on one database, each with several writers appending as fast
// as they can: the write lock makes every append on either replica one link
// of one chain, with no seq given twice or skipped, and none lost.
TEST(PostgresStore, TwoStoresAppendingAtOnceKeepOneChain) {
  const std::string db = new_database();
  constexpr int kReplicas = 2;
  constexpr int kThreads = 4;
  std::vector<std::unique_ptr<Store>> replicas;
  for (int r = 0; r < kReplicas; ++r) {
    auto s = open_postgres_store(options_for(db));
    ASSERT_TRUE(s.ok()) << s.error().message;
    replicas.push_back(std::move(*s));
  }
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> appended{0};
  std::atomic<std::uint64_t> failed{0};
  std::uint64_t by_replica[kReplicas] = {};
  std::mutex mu;
  std::string first_error;
  std::vector<std::thread> threads;
  for (int r = 0; r < kReplicas; ++r) {
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, r, t] {
        std::uint64_t mine = 0;
        for (int i = 0; !stop.load(); ++i) {
          AuditDraft d;
          d.time = AuditTime{std::chrono::milliseconds{1'700'000'000'000 + i}};
          d.actor = "replica" + std::to_string(r);
          d.action = "test.append";
          d.target = "thread" + std::to_string(t);
          d.details = "{\"i\":" + std::to_string(i) + "}";
          const Status st = replicas[static_cast<std::size_t>(r)]->write([&](StoreTx& tx) -> Status {
            auto e = tx.append_audit(d);
            return e.ok() ? Status{} : Status{e.error()};
          });
          if (st.ok()) {
            ++appended;
            ++mine;
          } else {
            ++failed;
            std::lock_guard lock(mu);
            if (first_error.empty()) first_error = st.error().message;
          }
        }
        std::lock_guard lock(mu);
        by_replica[r] += mine;
      });
    }
  }
  std::this_thread::sleep_for(std::chrono::seconds(3));
  stop = true;
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0U) << first_error;
  for (int r = 0; r < kReplicas; ++r) EXPECT_GT(by_replica[r], 0U) << "replica " << r << " appended nothing";
  const std::uint64_t n = appended.load();
  ASSERT_GT(n, 0U);
  RecordProperty("appends", std::to_string(n));

  // Either replica sees the whole chain, verified, ending at its head.
  for (auto& s : replicas) {
    auto head = s->audit_head();
    ASSERT_TRUE(head.ok() && head->has_value()) << (head.ok() ? "no head" : head.error().message);
    EXPECT_EQ((*head)->seq, n);
    auto v = verify_stored_chain(*s, **head);
    ASSERT_TRUE(v.ok()) << v.error().message;
    EXPECT_TRUE(v->ok) << v->problem;
    EXPECT_EQ(v->events_checked, n);
  }
  // seq runs 1..N: no gap, no repeat.
  std::uint64_t next = 1;
  for (;;) {
    auto page = replicas[0]->audit_range(next, kMaxPage);
    ASSERT_TRUE(page.ok()) << page.error().message;
    if (page->empty()) break;
    for (const auto& e : *page) {
      ASSERT_EQ(e.seq, next) << "a gap or a repeat";
      ++next;
    }
  }
  EXPECT_EQ(next - 1, n);
  std::string rows;
  ASSERT_TRUE(cluster().psql("SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM audit_events", &rows, db));
  EXPECT_EQ(rows, std::to_string(n) + "|" + std::to_string(n) + "|1|" + std::to_string(n) + "\n");
}

// A write reads the trail's head with its BEGIN (one round trip) and an
// append then reads nothing more: the head it read is still checked
// against its hash, and against the last event this store wrote.
TEST(PostgresStore, AHeadChangedOutsideHoistdStopsTheNextAppend) {
  const std::string db = new_database();
  auto s = open_postgres_store(options_for(db));
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto append = [&](const std::string& action) {
    return (*s)->write([&](StoreTx& tx) -> Status {
      AuditDraft d;
      d.time = AuditTime{std::chrono::milliseconds{1'700'000'000'000}};
      d.actor = "alice";
      d.action = action;
      auto e = tx.append_audit(d);
      return e.ok() ? Status{} : Status{e.error()};
    });
  };
  ASSERT_TRUE(append("test.one").ok());
  ASSERT_TRUE(append("test.two").ok());
  std::string out;
  // Edited: the head no longer matches its hash.
  ASSERT_TRUE(cluster().psql("UPDATE audit_events SET details = '{\"x\":1}' WHERE seq = 2", &out, db));
  auto refused = append("test.three");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("#2, does not match its hash"), std::string::npos) << refused.error().message;
  // Deleted: the head is an older event whose hash is right, but this
  // store wrote #2.
  ASSERT_TRUE(cluster().psql("DELETE FROM audit_events WHERE seq = 2", &out, db));
  refused = append("test.three");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("#2, which this hoistd wrote, is gone or changed"), std::string::npos)
      << refused.error().message;
  ASSERT_TRUE(cluster().psql("SELECT count(*) FROM audit_events", &out, db));
  EXPECT_EQ(out, "1\n");
}

// Several events in one write chain to each other (the head known from the
// BEGIN, then each appended event).
TEST(PostgresStore, SeveralAppendsInOneWriteChain) {
  const std::string db = new_database();
  auto s = open_postgres_store(options_for(db));
  ASSERT_TRUE(s.ok()) << s.error().message;
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE((*s)->write([&](StoreTx& tx) -> Status {
                      for (int i = 0; i < 3; ++i) {
                        AuditDraft d;
                        d.time = AuditTime{std::chrono::milliseconds{1'700'000'000'000 + i}};
                        d.actor = "alice";
                        d.action = "test.many";
                        auto e = tx.append_audit(d);
                        if (!e.ok()) return e.error();
                      }
                      return {};
                    })
                    .ok());
  }
  auto head = (*s)->audit_head();
  ASSERT_TRUE(head.ok() && head->has_value());
  EXPECT_EQ((*head)->seq, 6U);
  auto v = verify_stored_chain(**s, **head);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_TRUE(v->ok) << v->problem;
  EXPECT_EQ(v->events_checked, 6U);
}

// pg::text_array: any text comes back from the database as it went, one
// element each, however it is quoted (it carries endpoint ids and the
// replicas' notifications as one parameter).
TEST(PostgresStore, ATextArrayCarriesEveryValueWhole) {
  const std::vector<std::string> values = {"",     "plain", "a,b",       "{x}",       "\"quoted\"", "back\\slash",
                                           "NULL", "\\\"",  "two words", "é unicode", "end\\"};
  auto rows = admin_conn().query("SELECT v FROM unnest($1::TEXT[]) WITH ORDINALITY AS t(v, n) ORDER BY n",
                                 "read an array back", pg::text_array(values));
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  ASSERT_EQ(rows->size(), static_cast<int>(values.size()));
  for (int i = 0; i < rows->size(); ++i) {
    EXPECT_FALSE(rows->row(i).is_null(0)) << i;
    EXPECT_EQ(rows->row(i).text_at(0), values[static_cast<std::size_t>(i)]) << i;
  }
  auto empty = admin_conn().query("SELECT cardinality($1::TEXT[])", "an empty array", pg::text_array({}));
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_EQ(empty->row(0).int_at(0), 0);
}

// What one replica publishes reaches the others, all of it, in one round
// trip per batch; a replica never hears itself; past the cap a batch
// collapses into "everything changed" on every channel.
TEST(PostgresStore, PublishedChangesReachTheOtherReplicaWhole) {
  const std::string db = new_database();
  auto a = open_postgres_store(options_for(db));
  auto b = open_postgres_store(options_for(db));
  ASSERT_TRUE(a.ok() && b.ok());
  std::mutex mu;
  std::condition_variable changed;
  std::set<std::string> heard_by_b;
  std::set<std::string> heard_by_a;
  bool b_listening = false;
  const auto listen = [&](Store& s, std::set<std::string>& heard, bool* ready) {
    s.replicas().listen(
        [&](std::string_view channel, std::string_view payload) {
          const std::lock_guard lock(mu);
          heard.insert(std::string(channel) + ":" + std::string(payload));
          changed.notify_all();
        },
        [&, ready] {
          const std::lock_guard lock(mu);
          if (ready != nullptr) *ready = true;
          changed.notify_all();
        });
  };
  listen(**b, heard_by_b, &b_listening);
  listen(**a, heard_by_a, nullptr);
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return b_listening; }));
  }
  for (int i = 0; i < 500; ++i) (*a)->replicas().publish("push", "endpoint-" + std::to_string(i));
  (*a)->replicas().publish("policy", "");
  {
    std::unique_lock lock(mu);
    EXPECT_TRUE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return heard_by_b.size() >= 501; }))
        << heard_by_b.size() << " of 501";
    EXPECT_TRUE(heard_by_b.count("push:endpoint-0") && heard_by_b.count("push:endpoint-499") &&
                heard_by_b.count("policy:"));
  }
  // Past the cap (1,024 waiting): every channel, for everything; or, if
  // the listener kept up, each one. Nothing is lost either way.
  {
    const std::lock_guard lock(mu);
    heard_by_b.clear();
  }
  for (int i = 0; i < 3000; ++i) (*a)->replicas().publish("push", "flood-" + std::to_string(i));
  {
    std::unique_lock lock(mu);
    EXPECT_TRUE(changed.wait_for(lock, std::chrono::seconds(10), [&] {
      return heard_by_b.count("push:") > 0 || heard_by_b.size() >= 3000;
    })) << heard_by_b.size();
  }
  (*a)->replicas().stop();
  (*b)->replicas().stop();
  const std::lock_guard lock(mu);
  EXPECT_TRUE(heard_by_a.empty()) << "a replica heard its own change: " << *heard_by_a.begin();
}

TEST(PostgresStore, ConnectionsKilledUnderItAreReplaced) {
  const std::string db = new_database();
  auto s = open_postgres_store(options_for(db));
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_TRUE((*s)->schema_version().ok());
  ASSERT_TRUE(cluster().psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '" + db +
                                 "' AND pid <> pg_backend_pid()",
                             nullptr));
  // The first call may find its connection dead (and says so); the pool
  // drops it and the next call gets a new one.
  auto first = (*s)->schema_version();
  if (!first.ok()) {
    EXPECT_EQ(first.error().code, ErrorCode::kUnavailable) << first.error().message;
  }
  auto again = (*s)->schema_version();
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, static_cast<int>(postgres_migrations().size()));
}

// [database] url with sslmode=verify-full: the server's certificate must
// chain to sslrootcert and name the host; another CA's is refused.
TEST(PostgresStore, TlsToTheDatabaseIsVerified) {
  using namespace hoist::tls::testing;  // NOLINT(google-build-using-namespace)
  const auto kNow = TimePoint{std::chrono::duration_cast<Seconds>(std::chrono::system_clock::now().time_since_epoch())};
  const auto ca = make_cert("database CA", kNow - std::chrono::hours(1), kNow + std::chrono::hours(24), true);
  const auto leaf =
      make_cert("127.0.0.1", kNow - std::chrono::hours(1), kNow + std::chrono::hours(24), false, &ca, "IP:127.0.0.1");
  const auto other = make_cert("another CA", kNow - std::chrono::hours(1), kNow + std::chrono::hours(24), true);
  hoist::testing::PgCluster::Options o;
  o.tls_cert_pem = pem_of(leaf.cert.get());
  o.tls_key_pem = pem_of(leaf.key.get());
  // Only TLS connections from 127.0.0.1 (the socket stays for psql).
  hoist::testing::PgCluster tls_cluster(o);
  ASSERT_TRUE(tls_cluster.start()) << tls_cluster.error();
  ASSERT_TRUE(tls_cluster.create_database("tls"));
  hoist::testing::TempDir dir;
  write_text(dir.path() + "/ca.crt", pem_of(ca.cert.get()), 0644);
  write_text(dir.path() + "/other.crt", pem_of(other.cert.get()), 0644);

  PostgresOptions good;
  good.conninfo = tls_cluster.conninfo("tls") + " sslmode=verify-full sslrootcert=" + dir.path() + "/ca.crt";
  auto s = open_postgres_store(good);
  ASSERT_TRUE(s.ok()) << s.error().message;
  std::string ssl;
  ASSERT_TRUE(
      tls_cluster.psql("SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE ssl AND "
                       "application_name = 'hoistd'",
                       &ssl, "tls"));
  EXPECT_NE(ssl, "0\n") << "hoistd's connections use TLS";

  PostgresOptions wrong = good;
  wrong.conninfo = tls_cluster.conninfo("tls") + " sslmode=verify-full sslrootcert=" + dir.path() + "/other.crt";
  auto refused = open_postgres_store(wrong);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(refused.error().message.find("certificate"), std::string::npos) << refused.error().message;

  // The main cluster has no TLS: verify-full refuses to go on without it.
  PostgresOptions plain;
  plain.conninfo = cluster().conninfo("postgres") + " sslmode=verify-full sslrootcert=" + dir.path() + "/ca.crt";
  EXPECT_FALSE(open_postgres_store(plain).ok());
}

}  // namespace
}  // namespace hoist::store
