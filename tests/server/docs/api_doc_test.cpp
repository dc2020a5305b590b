// docs/api.md's route table is the API's contract: every route the server
// has is documented with its access rule, and every documented route exists.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "platform/system_time_zones.h"
#include "server/api/api.h"
#include "store/sqlite_store.h"

namespace hoist::api {
namespace {

using RouteKey = std::tuple<std::string, std::string, std::string>;  // method, pattern, access

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" `");
  const auto e = s.find_last_not_of(" `");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// Rows of the table under "## Routes": | METHOD | `path` | access | what |
std::set<RouteKey> documented_routes(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::set<RouteKey> out;
  std::string line;
  bool in_routes = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) {
      in_routes = line == "## Routes";
      continue;
    }
    if (!in_routes || line.rfind("| ", 0) != 0 || line.find("/api/") == std::string::npos) {
      continue;
    }
    std::vector<std::string> cells;
    std::stringstream ss(line.substr(1));
    std::string cell;
    while (std::getline(ss, cell, '|')) {
      cells.push_back(trim(cell));
    }
    EXPECT_GE(cells.size(), 3U) << line;
    if (cells.size() >= 3) {
      EXPECT_TRUE(out.emplace(cells[0], cells[1], cells[2]).second) << "documented twice: " << line;
    }
  }
  return out;
}

TEST(ApiDoc, RouteTableMatchesTheServer) {
  char dir_template[] = "/tmp/hoist-apidoc-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  {
    auto store = store::open_sqlite_store(dir + "/hoist.db");
    ASSERT_TRUE(store.ok()) << store.error().message;
    platform::SystemTimeZones zones;
    SystemClock clock;
    auto log = log::make_null_logger();
    Api api({**store, clock, *log, zones, nullptr}, ApiOptions{});

    std::set<RouteKey> served;
    for (const auto& r : api.routes()) {
      EXPECT_TRUE(served.emplace(r.method, r.pattern, std::string(to_string(r.access))).second)
          << "route defined twice: " << r.method << " " << r.pattern;
    }
    const auto documented = documented_routes(std::string(HOIST_SOURCE_DIR) + "/docs/api.md");
    EXPECT_GT(documented.size(), 30U);
    for (const auto& [method, pattern, access] : served) {
      EXPECT_TRUE(documented.count({method, pattern, access}))
          << "served but not documented (or with another access) in docs/api.md: | " << method << " | `" << pattern
          << "` | " << access << " |";
    }
    for (const auto& [method, pattern, access] : documented) {
      EXPECT_TRUE(served.count({method, pattern, access}))
          << "documented in docs/api.md but not served: " << method << " " << pattern << " (" << access << ")";
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hoist::api
