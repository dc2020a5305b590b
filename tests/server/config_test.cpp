// hoistd.toml's [requests] section: the sweep and the limits on agents'
// submissions, their defaults and a clear error for each mistake (the
// [[siem]] streams have siem_config_test.cpp; the file as hoistd reads it,
// exit codes included, is tests/e2e/startup_test.cpp).
#include <gtest/gtest.h>

#include "server/config.h"

namespace hoist::server {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

Status parse(const std::string& text, Config& c) {
  return parse_config(text, "hoistd.toml", c);
}

TEST(RequestsConfig, TheDefaultsAreTheThrottlesOnes) {
  Config c;
  ASSERT_TRUE(parse("", c).ok());
  EXPECT_EQ(c.submissions, app::SubmissionLimits{});
  EXPECT_EQ(c.submissions.per_endpoint, (BucketLimit{60, seconds{1}}));
  EXPECT_EQ(c.submissions.per_user, (BucketLimit{20, seconds{6}}));
  EXPECT_EQ(c.sweep_interval, seconds{15});
}

TEST(RequestsConfig, TheLimitsAreRead) {
  Config c;
  const auto st = parse(R"([requests]
sweep_interval = "30s"
endpoint_burst = 1000000
endpoint_every = "1ms"
user_burst = 5
user_every = "1m30s"
)",
                        c);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(c.sweep_interval, seconds{30});
  EXPECT_EQ(c.submissions.per_endpoint, (BucketLimit{1000000, milliseconds{1}}));
  EXPECT_EQ(c.submissions.per_user, (BucketLimit{5, seconds{90}}));
}

TEST(RequestsConfig, OneKeyLeavesTheOthersAtTheirDefaults) {
  Config c;
  ASSERT_TRUE(parse("[requests]\nuser_burst = 40\n", c).ok());
  EXPECT_EQ(c.submissions.per_user, (BucketLimit{40, seconds{6}}));
  EXPECT_EQ(c.submissions.per_endpoint, (BucketLimit{60, seconds{1}}));
}

TEST(RequestsConfig, EachMistakeSaysWhatIsWrong) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[requests]\nendpoint_burst = 0\n", "hoistd.toml:2:18: requests.endpoint_burst must be between 1 and 1000000"},
      {"[requests]\nuser_burst = 1000001\n", "requests.user_burst must be between 1 and 1000000"},
      {"[requests]\nuser_burst = -1\n", "requests.user_burst must be between 1 and 1000000"},
      {"[requests]\nuser_burst = \"20\"\n", "requests.user_burst must be a whole number"},
      {"[requests]\nendpoint_every = 1\n", "requests.endpoint_every must be a string"},
      {"[requests]\nendpoint_every = \"0ms\"\n", "requests.endpoint_every must be between 1ms and 1h"},
      {"[requests]\nendpoint_every = \"0s\"\n", "requests.endpoint_every:"},
      {"[requests]\nuser_every = \"2h\"\n", "hoistd.toml:2:14: requests.user_every must be between 1ms and 1h"},
      {"[requests]\nuser_every = \"often\"\n", "requests.user_every:"},
      {"[requests]\nsweep_interval = \"often\"\n", "requests.sweep_interval:"},
      {"[requests]\nuser_limit = 5\n", "unknown key \"requests.user_limit\""},
      {"[requests]\nendpoint_burst = 0\nuser_every = \"1s\"\n", "requests.endpoint_burst"},
  };
  for (const auto& [text, words] : cases) {
    Config c;
    auto st = parse(text, c);
    ASSERT_FALSE(st.ok()) << text;
    EXPECT_NE(st.error().message.find(words), std::string::npos) << text << " -> " << st.error().message;
  }
}

TEST(DatabaseConfig, PostgresIsReadWithItsKeys) {
  Config c;
  const auto st = parse(R"([database]
backend = "postgres"
url = "host=db1,db2 dbname=hoist target_session_attrs=read-write"
password_file = "/etc/hoist/db-password"
pool_size = 12
connect_timeout_s = 7
query_timeout_s = 20
)",
                        c);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_TRUE(c.postgres);
  EXPECT_EQ(c.pg.url, "host=db1,db2 dbname=hoist target_session_attrs=read-write");
  EXPECT_EQ(c.pg.password_file, "/etc/hoist/db-password");
  EXPECT_EQ(c.pg.pool_size, 12);
  EXPECT_EQ(c.pg.connect_timeout_s, 7);
  EXPECT_EQ(c.pg.query_timeout_s, 20);
}

TEST(DatabaseConfig, EachMistakeSaysWhatIsWrong) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      // Other tools (and design notes) call it the store: say where it is.
      {"[store]\nurl = \"host=db\"\n", "there is no [store] section: the database is set in [database]"},
      {"[database]\nbackend = \"mysql\"\n", "database.backend \"mysql\" is not known"},
      {"[database]\nbackend = \"postgres\"\n", "needs database.url"},
      {"[database]\nbackend = \"postgres\"\nurl = \"host=db\"\npath = \"/x.db\"\n",
       "database.path names a SQLite file"},
      {"[database]\nurl = \"host=db\"\n", "are for backend \"postgres\""},
      {"[database]\nbackend = \"postgres\"\nurl = \"host=db\"\npool_size = 1001\n", "database.pool_size"},
      {"[database]\nbackend = \"postgres\"\nurl = \"host=db\"\nquery_timeout_s = 0\n", "database.query_timeout_s"},
      {"[database]\nbackend = \"postgres\"\nurl = \"host=db\"\npasword_file = \"/x\"\n",
       "unknown key \"database.pasword_file\""},
  };
  for (const auto& [text, words] : cases) {
    Config c;
    auto st = parse(text, c);
    ASSERT_FALSE(st.ok()) << text;
    EXPECT_NE(st.error().message.find(words), std::string::npos) << text << " -> " << st.error().message;
  }
}

TEST(ServerConfig, ProxyProtocolFromIsEmptyByDefaultAndRead) {
  Config c;
  ASSERT_TRUE(parse("", c).ok());
  EXPECT_TRUE(c.http.proxy_protocol_from.empty());
  ASSERT_TRUE(parse("[server]\nproxy_protocol_from = [\"10.0.0.5\", \"fd00::/64\"]\n", c).ok());
  ASSERT_EQ(c.http.proxy_protocol_from.size(), 2u);
  EXPECT_TRUE(net::address_in(c.http.proxy_protocol_from, "10.0.0.5"));
  EXPECT_FALSE(net::address_in(c.http.proxy_protocol_from, "10.0.0.6"));
  EXPECT_TRUE(net::address_in(c.http.proxy_protocol_from, "fd00::9"));
}

TEST(ServerConfig, ProxyProtocolFromMistakesSayWhere) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[server]\nproxy_protocol_from = \"10.0.0.5\"\n", "hoistd.toml:2:23: server.proxy_protocol_from must be a list"},
      {"[server]\nproxy_protocol_from = [\"10.0.0.5\", \"haproxy\"]\n",
       "hoistd.toml:2:36: server.proxy_protocol_from: \"haproxy\" is not an IP address"},
      {"[server]\nproxy_protocol_from = [\"10.0.0.5/24\"]\n", "bits are set after the prefix length"},
      {"[server]\nproxy_protocol_from = [\"10.0.0.0/40\"]\n", "the prefix length must be 0 to 32"},
      {"[server]\nproxy_protocol_from = [5]\n", "must be a list of strings"},
  };
  for (const auto& [text, words] : cases) {
    Config c;
    auto st = parse(text, c);
    ASSERT_FALSE(st.ok()) << text;
    EXPECT_NE(st.error().message.find(words), std::string::npos) << text << " -> " << st.error().message;
  }
}

TEST(LimitsConfig, TheAgentEventsLimitIsReadWithItsDefault) {
  Config c;
  ASSERT_TRUE(parse("", c).ok());
  EXPECT_EQ(c.agent_events, (BucketLimit{2000, milliseconds{50}}));
  ASSERT_TRUE(parse("[limits]\nagent_events_burst = 100\nagent_events_every = \"1s\"\n", c).ok());
  EXPECT_EQ(c.agent_events, (BucketLimit{100, seconds{1}}));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[limits]\nagent_events_burst = 0\n", "limits.agent_events_burst must be between 1 and 1000000"},
      {"[limits]\nagent_events_every = \"2h\"\n", "limits.agent_events_every must be between 1ms and 1h"},
      {"[limits]\nagent_events_every = \"soon\"\n", "limits.agent_events_every:"},
  };
  for (const auto& [text, words] : cases) {
    Config bad;
    auto st = parse(text, bad);
    ASSERT_FALSE(st.ok()) << text;
    EXPECT_NE(st.error().message.find(words), std::string::npos) << text << " -> " << st.error().message;
  }
}

}  // namespace
}  // namespace hoist::server
