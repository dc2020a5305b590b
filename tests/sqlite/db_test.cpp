#include "sqlite/db.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "support/temp_dir.h"

namespace hoist::sqlite {
namespace {

class DbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options options;
    options.create = true;
    options.statement_cache_size = 2;
    auto opened = Db::open(path(), options);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    db_ = std::move(*opened);
    ASSERT_TRUE(db_->exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, at INTEGER, "
                          "owner INTEGER REFERENCES t (id))",
                          "create")
                    .ok());
  }
  [[nodiscard]] std::string path() const { return dir_.path() + "/test.db"; }
  std::int64_t count() {
    auto s = db_->prepare("SELECT count(*) FROM t");
    EXPECT_TRUE(s.ok());
    auto row = s->step("count");
    EXPECT_TRUE(row.ok() && *row);
    return s->int_at(0);
  }

  testing::TempDir dir_;
  std::unique_ptr<Db> db_;
};

TEST_F(DbTest, OpensWithDurableSettings) {
  for (const auto& [pragma, want] : {std::pair{"PRAGMA journal_mode", "wal"}, std::pair{"PRAGMA synchronous", "2"},
                                     std::pair{"PRAGMA foreign_keys", "1"}}) {
    auto s = db_->prepare(pragma);
    ASSERT_TRUE(s.ok());
    auto row = s->step(pragma);
    ASSERT_TRUE(row.ok() && *row);
    EXPECT_EQ(s->text_at(0), want) << pragma;
  }
  // secure_delete when asked (the agent's credentials); some builds of
  // SQLite have it on by default.
  Options options;
  options.secure_delete = true;
  auto other = Db::open(path(), options);
  ASSERT_TRUE(other.ok()) << other.error().message;
  auto s = (*other)->prepare("PRAGMA secure_delete");
  ASSERT_TRUE(s.ok());
  auto row = s->step("read secure_delete");
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(s->int_at(0), 1);
}

TEST_F(DbTest, BindsAndReadsBackEveryType) {
  const TimePoint at{Seconds{1'700'000'000}};
  ASSERT_TRUE(db_->execute("INSERT INTO t (id, name, at) VALUES (?, ?, ?)", "insert", std::int64_t{1},
                           std::string_view("a\0b", 3), at)
                  .ok());
  auto s = db_->prepare("SELECT id, name, at, owner FROM t");
  ASSERT_TRUE(s.ok());
  auto row = s->step("read");
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(s->int_at(0), 1);
  EXPECT_EQ(s->text_at(1), std::string("a\0b", 3));
  EXPECT_EQ(s->time_at(2), at);
  EXPECT_TRUE(s->is_null(3));
  EXPECT_EQ(s->opt_time_at(3), std::nullopt);
  EXPECT_EQ(s->opt_int_at(3), std::nullopt);
  row = s->step("read");
  ASSERT_TRUE(row.ok());
  EXPECT_FALSE(*row);
}

TEST_F(DbTest, AStatementInUseIsLentOnceAndATextPastTheCapIsPreparedForEachUse) {
  ASSERT_TRUE(db_->execute("INSERT INTO t (id, name) VALUES (1, 'a'), (2, 'b')", "insert").ok());
  // Two nested uses of one text, and more texts than the cap of 2.
  auto outer = db_->prepare("SELECT id FROM t ORDER BY id");
  ASSERT_TRUE(outer.ok());
  int rows = 0;
  for (;;) {
    auto row = outer->step("outer");
    ASSERT_TRUE(row.ok());
    if (!*row) break;
    auto inner = db_->prepare("SELECT id FROM t ORDER BY id");
    ASSERT_TRUE(inner.ok());
    auto first = inner->step("inner");
    ASSERT_TRUE(first.ok() && *first);
    EXPECT_EQ(inner->int_at(0), 1);
    ++rows;
  }
  EXPECT_EQ(rows, 2);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(count(), 2);
}

TEST_F(DbTest, AStatementGivenBackIsResetAndItsBindingsCleared) {
  ASSERT_TRUE(db_->execute("INSERT INTO t (id, name) VALUES (1, 'a')", "insert").ok());
  {
    auto s = db_->prepare("SELECT name FROM t WHERE id = ?");
    ASSERT_TRUE(s.ok());
    s->bind_int(1, 1);
    auto row = s->step("read");
    ASSERT_TRUE(row.ok() && *row);
  }  // given back mid-result
  auto s = db_->prepare("SELECT name FROM t WHERE id = ?");
  ASSERT_TRUE(s.ok());
  auto row = s->step("read");  // parameter 1 is NULL again
  ASSERT_TRUE(row.ok());
  EXPECT_FALSE(*row);
  // Moving another statement into it gives the first one back.
  *s = std::move(*db_->prepare("SELECT count(*) FROM t"));
  row = s->step("count");
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(s->int_at(0), 1);
}

TEST_F(DbTest, WriteCommitsOrRollsBackEverything) {
  const Status committed = db_->write([&]() -> Status {
    auto inserted = db_->execute("INSERT INTO t (name) VALUES ('a')", "insert");
    return inserted.ok() ? Status{} : Status{inserted.error()};
  });
  EXPECT_TRUE(committed.ok()) << committed.error().message;
  const Status failed = db_->write([&]() -> Status {
    (void)db_->execute("INSERT INTO t (name) VALUES ('b')", "insert");
    return invalid_argument("no");
  });
  EXPECT_EQ(failed.error().code, ErrorCode::kInvalidArgument);
  const Status thrown = db_->write([&]() -> Status {
    (void)db_->execute("INSERT INTO t (name) VALUES ('c')", "insert");
    throw std::runtime_error("boom");
  });
  EXPECT_EQ(thrown.error().code, ErrorCode::kInternal);
  EXPECT_NE(thrown.error().message.find("boom"), std::string::npos);
  EXPECT_EQ(count(), 1);
}

TEST_F(DbTest, AnUnsyncedWriteIsCommittedWithoutASyncAndTheNextWriteIsDurableAgain) {
  const auto synchronous = [&] {
    auto s = db_->prepare("PRAGMA synchronous");
    EXPECT_TRUE(s.ok());
    auto row = s->step("read synchronous");
    EXPECT_TRUE(row.ok() && *row);
    return s->int_at(0);
  };
  std::int64_t inside = -1;
  const Status unsynced = db_->write_unsynced([&]() -> Status {
    inside = synchronous();
    auto inserted = db_->execute("INSERT INTO t (name) VALUES ('a')", "insert");
    return inserted.ok() ? Status{} : Status{inserted.error()};
  });
  ASSERT_TRUE(unsynced.ok()) << unsynced.error().message;
  EXPECT_EQ(inside, 1);  // NORMAL: the commit does not wait for the disk
  EXPECT_EQ(synchronous(), 2);
  EXPECT_EQ(count(), 1);
  // Rolled back like any write, and FULL again after it.
  const Status failed = db_->write_unsynced([&]() -> Status {
    (void)db_->execute("INSERT INTO t (name) VALUES ('b')", "insert");
    return invalid_argument("no");
  });
  EXPECT_EQ(failed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(count(), 1);
  EXPECT_EQ(synchronous(), 2);
  std::int64_t durable = -1;
  ASSERT_TRUE(db_->write([&]() -> Status {
                   durable = synchronous();
                   return {};
                 })
                  .ok());
  EXPECT_EQ(durable, 2);
}

TEST_F(DbTest, ErrorsKeepHoistsCategories) {
  ASSERT_TRUE(db_->execute("INSERT INTO t (id, name) VALUES (1, 'a')", "insert").ok());
  auto dup = db_->execute("INSERT INTO t (name) VALUES ('a')", "insert a duplicate");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
  EXPECT_FALSE(db_->foreign_key_failed());
  EXPECT_EQ(dup.error().message.rfind("database: insert a duplicate: ", 0), 0u) << dup.error().message;
  auto orphan = db_->execute("INSERT INTO t (name, owner) VALUES ('b', 99)", "insert an orphan");
  ASSERT_FALSE(orphan.ok());
  EXPECT_EQ(orphan.error().code, ErrorCode::kConflict);
  EXPECT_TRUE(db_->foreign_key_failed());
  auto bad = db_->prepare("SELECT nothing FROM nowhere");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInternal);
}

TEST_F(DbTest, ErrorsNameTheFileWhenAsked) {
  Options options;
  options.noun = "agent database";
  options.errors_name_file = true;
  auto other = Db::open(path(), options);
  ASSERT_TRUE(other.ok()) << other.error().message;
  auto bad = (*other)->exec("NOT SQL", "run garbage");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.rfind("agent database " + path() + ": run garbage: ", 0), 0u) << bad.error().message;
}

TEST(DbOpen, RefusesAMissingFileUnlessAskedToCreateItAndASymlink) {
  testing::TempDir dir;
  auto missing = Db::open(dir.path() + "/missing.db", Options{});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(missing.error().message.find(dir.path() + "/missing.db"), std::string::npos);

  Options create;
  create.create = true;
  ASSERT_TRUE(Db::open(dir.path() + "/real.db", create).ok());
  ASSERT_EQ(symlink((dir.path() + "/real.db").c_str(), (dir.path() + "/link.db").c_str()), 0);
  auto link = Db::open(dir.path() + "/link.db", create);
  ASSERT_FALSE(link.ok());
  EXPECT_EQ(link.error().code, ErrorCode::kUnavailable);
}

TEST(DbOpen, ADamagedFileSaysWhatToDo) {
  testing::TempDir dir;
  const std::string file = dir.write("junk.db", std::string(4096, 'x'));
  Options options;
  options.damaged_advice = "restore it from a backup";
  auto db = Db::open(file, options);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::kInternal);
  EXPECT_NE(db.error().message.find("(restore it from a backup)"), std::string::npos) << db.error().message;
  EXPECT_NE(db.error().message.find(file), std::string::npos) << db.error().message;
}

}  // namespace
}  // namespace hoist::sqlite
