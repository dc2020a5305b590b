#include "server/backup/manifest.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace hoist::backup {
namespace {

namespace json = boost::json;

Manifest sample() {
  Manifest m;
  m.hoistd_version = "0.1.0";
  m.created = "2026-12-07T16:00:00Z";
  m.source_data_dir = "/var/lib/hoistd";
  m.source_database = "/var/lib/hoistd/hoist.db";
  m.database = {"hoist.db", 15, 42, 42, std::string(64, 'a')};
  m.entries = {{"hoist.db", false, 0600, 100, 101, 4096, std::string(64, 'b')},
               {"tls", true, 0700, 100, 101, 0, ""},
               {"tls/ca.key", false, 0600, 100, 101, 241, std::string(64, 'c')},
               {"tls/ca.crt", false, 0644, 100, 101, 599, std::string(64, 'd')}};
  m.skipped = {{"evil", "a symlink (never followed)"}};
  return m;
}

// The sample's JSON with `edit` applied.
std::string edited(const std::function<void(json::object&)>& edit) {
  json::value v = json::parse(to_json(sample()));
  edit(v.as_object());
  return json::serialize(v);
}

json::object& entry(json::object& o, std::size_t i) {
  return o["entries"].as_array()[i].as_object();
}

TEST(Manifest, RoundTrips) {
  auto m = parse_manifest(to_json(sample()));
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(*m, sample());
}

// The backend: "postgres" round-trips; a manifest written before
// PostgreSQL (no field) is SQLite's; anything else is refused.
TEST(Manifest, NamesItsBackend) {
  Manifest pg = sample();
  pg.backend = std::string(kBackendPostgres);
  auto m = parse_manifest(to_json(pg));
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->backend, "postgres");
  auto old = parse_manifest(edited([](json::object& o) { o.erase("backend"); }));
  ASSERT_TRUE(old) << old.error().message;
  EXPECT_EQ(old->backend, "sqlite");
  EXPECT_FALSE(parse_manifest(edited([](json::object& o) { o["backend"] = "mysql"; })));
  EXPECT_FALSE(parse_manifest(edited([](json::object& o) { o["backend"] = 1; })));
}

TEST(Manifest, PathsThatWouldWriteOutsideTheTargetAreRefused) {
  for (const char* path :
       {"../etc/passwd", "/etc/passwd", "tls/../../x", "tls//ca.key", "tls/./ca.key", "", ".", "tls/", "a/.."}) {
    const auto text = edited([&](json::object& o) { entry(o, 2)["path"] = path; });
    auto m = parse_manifest(text);
    EXPECT_FALSE(m) << "accepted " << path;
    if (!m) {
      EXPECT_EQ(m.error().code, ErrorCode::kInvalidArgument);
    }
  }
  EXPECT_TRUE(check_relative_path("tls/ca.key"));
  EXPECT_TRUE(check_relative_path("..hidden/.x"));
  EXPECT_FALSE(check_relative_path(std::string_view("a\0b", 3)));
}

TEST(Manifest, WhatARestoreCannotTrustIsRefused) {
  const std::vector<std::pair<std::string, std::function<void(json::object&)>>> cases = {
      {"twice", [](json::object& o) { entry(o, 3)["path"] = "tls/ca.key"; }},
      {"before its directory",
       [](json::object& o) {
         auto& a = o["entries"].as_array();
         std::swap(a[1], a[2]);
       }},
      {"a directory not listed", [](json::object& o) { entry(o, 2)["path"] = "codes/master.key"; }},
      {"setuid", [](json::object& o) { entry(o, 2)["mode"] = "4755"; }},
      {"not octal", [](json::object& o) { entry(o, 2)["mode"] = "0800"; }},
      {"short mode", [](json::object& o) { entry(o, 2)["mode"] = "600"; }},
      {"upper-case digest", [](json::object& o) { entry(o, 2)["sha256"] = std::string(64, 'C'); }},
      {"short digest", [](json::object& o) { entry(o, 2)["sha256"] = "abc"; }},
      {"negative size", [](json::object& o) { entry(o, 2)["size"] = -1; }},
      {"unknown type", [](json::object& o) { entry(o, 2)["type"] = "symlink"; }},
      {"another format", [](json::object& o) { o["format"] = "hoist-backup-2"; }},
      {"no database entry", [](json::object& o) { o["database"].as_object()["path"] = "other.db"; }},
      {"database path outside", [](json::object& o) { o["database"].as_object()["path"] = "../hoist.db"; }},
      {"bad head hash", [](json::object& o) { o["database"].as_object()["audit_head_hash"] = "zz"; }},
      {"no entries", [](json::object& o) { o.erase("entries"); }},
  };
  for (const auto& [name, edit] : cases) {
    auto m = parse_manifest(edited(edit));
    EXPECT_FALSE(m) << name;
  }
  EXPECT_FALSE(parse_manifest("not json"));
  EXPECT_FALSE(parse_manifest("[]"));
}

TEST(Manifest, TheDatabaseAndTemporaryFilesAreNotCopiedAsFiles) {
  for (const char* name : {"hoist.db", "hoist.db-wal", "hoist.db-shm", "hoist.db-journal"}) {
    EXPECT_TRUE(is_database_file(name, "hoist.db")) << name;
  }
  for (const char* name : {"hoist.db.bak", "hoist.db-walx", "other.db-wal", "xhoist.db", "hoist.d"}) {
    EXPECT_FALSE(is_database_file(name, "hoist.db")) << name;
  }
  EXPECT_TRUE(is_temporary_file(".ca.key.tmp-0011223344556677"));
  EXPECT_TRUE(is_temporary_file(".manifest.json.tmp-abc"));
  EXPECT_FALSE(is_temporary_file("ca.key"));
  EXPECT_FALSE(is_temporary_file("ca.tmp-1"));
}

TEST(Manifest, ARestoreNeedsTheKeys) {
  EXPECT_EQ(required_files(true),
            (std::vector<std::string>{"tls/ca.key", "tls/ca.crt", "codes/master.key", "notify/secrets.key"}));
  EXPECT_EQ(required_files(false), (std::vector<std::string>{"codes/master.key", "notify/secrets.key"}));
}

}  // namespace
}  // namespace hoist::backup
