// The PostgreSQL backend: the conformance suite against a cluster this test
// starts itself (support/pg_cluster.h), one new database per case, and
// what only this backend has: migrations under a lock when replicas start
// together, the conninfo rules, and connections lost under it.
#include "store/pg_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "store_conformance.h"
#include "support/pg_cluster.h"

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

testing::StoreBackend postgres_backend() {
  return {"postgres",
          [](std::string& handle) -> std::unique_ptr<Store> {
            handle = new_database();
            auto s = open_postgres_store(options_for(handle));
            EXPECT_TRUE(s.ok()) << s.error().message;
            return s.ok() ? std::move(*s) : nullptr;
          },
          [](const std::string& handle) -> std::unique_ptr<Store> {
            auto s = open_postgres_store(options_for(handle));
            EXPECT_TRUE(s.ok()) << s.error().message;
            return s.ok() ? std::move(*s) : nullptr;
          },
          [](const std::string& handle) { cluster().drop_database(handle); }};
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

}  // namespace
}  // namespace hoist::store
