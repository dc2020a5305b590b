// Unit tests of the `hoist` CLI's pieces that need no server: terminal
// safety, tables, the login file, error replies, URL encoding, and the
// client-side audit chain verification against a fake API.
#include <sys/stat.h>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <deque>

#include "cli/api_client.h"
#include "cli/audit_verify.h"
#include "cli/credentials.h"
#include "cli/terminal.h"
#include "core/timestamp.h"
#include "support/temp_dir.h"

namespace hoist::cli {
namespace {

namespace json = boost::json;

TEST(Printable, LinesKeepTheirBreaksAndEscapeTheRest) {
  EXPECT_EQ(printable_lines("fleet.toml: 2 problems:\n  line 3: x\n  line 9: y"),
            "fleet.toml: 2 problems:\n  line 3: x\n  line 9: y");
  // A carriage return would overwrite the line: still escaped.
  EXPECT_EQ(printable_lines("ok\rfake\x1b[2J\ttab"), "ok\\x0dfake\\x1b[2J\\x09tab");
}

TEST(Printable, KeepsTextAndEscapesWhatATerminalInterprets) {
  EXPECT_EQ(printable("alice é ünïcödé ✓"), "alice é ünïcödé ✓");
  EXPECT_EQ(printable("a\x1b[31mred"), "a\\x1b[31mred");
  EXPECT_EQ(printable("line\nbreak\ttab\r"), "line\\x0abreak\\x09tab\\x0d");
  EXPECT_EQ(printable("del\x7f"), "del\\x7f");
  // C1 control CSI (U+009B) as UTF-8, and raw invalid bytes.
  EXPECT_EQ(printable("x\xc2\x9b"
                      "2J"),
            "x\\u{009B}2J");
  // Characters that reorder the text around them (a bidi override).
  EXPECT_EQ(printable("rm \xe2\x80\xae"
                      "txt"),
            "rm \\u{202E}txt");
  EXPECT_EQ(printable("\xff\xfe"), "\\xff\\xfe");
  // Overlong and surrogate forms are invalid.
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");
  // Cut sequences at the end.
  EXPECT_EQ(printable("ok\xe2\x9c"), "ok\\xe2\\x9c");
}

TEST(Table, AlignsColumnsCountingCodePointsAndCutsLongCells) {
  Table t({"NAME", "NOTE"}, 10);
  t.add_row({"zoë", "short"});
  t.add_row({"bob", "a very long justification"});
  t.add_row({"eve\x1b]0;pwned\x07", ""});
  EXPECT_EQ(t.render(),
            "NAME        NOTE\n"
            "zoë         short\n"
            "bob         a very ...\n"
            "eve\\x1b...\n");
}

TEST(Table, FillsMissingCells) {
  Table t({"A", "B", "C"});
  t.add_row({"1"});
  EXPECT_EQ(t.render(), "A  B  C\n1\n");
}

TEST(ShortForms, TimesAndDurations) {
  EXPECT_EQ(short_time("2026-11-24T09:30:00Z"), "2026-11-24 09:30:00Z");
  EXPECT_EQ(short_time(""), "");
  EXPECT_EQ(short_time("soon\x1b"), "soon\\x1b");
  EXPECT_EQ(short_duration(0), "0s");
  EXPECT_EQ(short_duration(-5), "0s");
  EXPECT_EQ(short_duration(90), "1m30s");
  EXPECT_EQ(short_duration(5399), "1h30m");
  EXPECT_EQ(short_duration(86400), "1d");
}

TEST(UrlEncoding, EncodesEverythingButUnreserved) {
  EXPECT_EQ(url_encode("req-1_a.b~"), "req-1_a.b~");
  EXPECT_EQ(url_encode("a/b?c&d=e f%"), "a%2Fb%3Fc%26d%3De%20f%25");
  EXPECT_EQ(url_encode("é"), "%C3%A9");
  EXPECT_EQ(query_string({{"state", "pending"}, {"user", ""}, {"host", "web 1"}}), "?state=pending&host=web%201");
  EXPECT_EQ(query_string({{"user", ""}}), "");
}

net::HttpResponse reply(int status, std::string body) {
  net::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

TEST(ErrorFromReply, UsesTheBodysCodeAndMessage) {
  auto e = error_from_reply(reply(409, R"({"error":{"code":"conflict","message":"already approved"}})"));
  EXPECT_EQ(e.code, ErrorCode::kConflict);
  EXPECT_EQ(e.message, "already approved");
  // The body's code wins over the status.
  e = error_from_reply(reply(400, R"({"error":{"code":"not_found","message":"x"}})"));
  EXPECT_EQ(e.code, ErrorCode::kNotFound);
  // An unknown code: the status decides.
  e = error_from_reply(reply(403, R"({"error":{"code":"new_thing","message":"m"}})"));
  EXPECT_EQ(e.code, ErrorCode::kPermissionDenied);
  // Not our body (a proxy's page).
  e = error_from_reply(reply(502, "<html>Bad Gateway</html>"));
  EXPECT_EQ(e.code, ErrorCode::kUnavailable);
  EXPECT_EQ(e.message, "the server answered HTTP 502");
  e = error_from_reply(reply(401, ""));
  EXPECT_EQ(e.code, ErrorCode::kUnauthenticated);
}

// --- The login file ---------------------------------------------------------

Credentials sample() {
  Credentials c;
  c.server = "https://hoist.example:8443";
  c.ca_fingerprint = "AB:CD";
  c.user = "alice";
  c.role = "approver";
  c.token = "hoist_api_id_secret";
  c.token_id = "id";
  c.expires_at = "2027-01-01T00:00:00Z";
  return c;
}

TEST(CredentialsFile, RoundTripsWithPrivateModes) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/cfg/hoist/cli.json";
  ASSERT_TRUE(save_credentials(path, sample()).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(::stat((dir.path() + "/cfg/hoist").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700);
  auto loaded = load_credentials(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->server, "https://hoist.example:8443");
  EXPECT_EQ((*loaded)->ca_fingerprint, "AB:CD");
  EXPECT_FALSE((*loaded)->ca_file.has_value());
  EXPECT_EQ((*loaded)->token, "hoist_api_id_secret");
  EXPECT_EQ((*loaded)->role, "approver");
  ASSERT_TRUE(remove_credentials(path).ok());
  auto gone = load_credentials(path);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
  EXPECT_TRUE(remove_credentials(path).ok());
}

TEST(CredentialsFile, RefusesAFileOthersCanRead) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/cli.json";
  ASSERT_TRUE(save_credentials(path, sample()).ok());
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto loaded = load_credentials(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(loaded.error().message.find("chmod 600"), std::string::npos) << loaded.error().message;
}

TEST(CredentialsFile, RefusesASymlink) {
  testing::TempDir dir;
  const std::string real = dir.path() + "/real.json";
  ASSERT_TRUE(save_credentials(real, sample()).ok());
  const std::string link = dir.path() + "/cli.json";
  ASSERT_EQ(::symlink(real.c_str(), link.c_str()), 0);
  auto loaded = load_credentials(link);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::kPermissionDenied);
}

TEST(CredentialsFile, ABrokenFileSaysToLogInAgain) {
  testing::TempDir dir;
  for (const char* text : {"", "not json", "[]", R"({"server":"https://x"})", R"({"server":1,"token":"t"})"}) {
    const std::string path = dir.write("cli.json", text, 0600);
    auto loaded = load_credentials(path);
    ASSERT_FALSE(loaded.ok()) << text;
    EXPECT_EQ(loaded.error().code, ErrorCode::kInvalidArgument) << text;
    EXPECT_NE(loaded.error().message.find("hoist login"), std::string::npos) << loaded.error().message;
  }
}

class EnvGuard {
 public:
  explicit EnvGuard(std::vector<std::pair<const char*, const char*>> vars) {
    for (auto [name, value] : vars) {
      const char* old = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
      saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
      if (value != nullptr) {
        ::setenv(name, value, 1);  // NOLINT(concurrency-mt-unsafe)
      } else {
        ::unsetenv(name);  // NOLINT(concurrency-mt-unsafe)
      }
    }
  }
  ~EnvGuard() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
      } else {
        ::unsetenv(name.c_str());  // NOLINT(concurrency-mt-unsafe)
      }
    }
  }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST(CurrentCredentials, EnvironmentOverridesTheFile) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/cli.json";
  ASSERT_TRUE(save_credentials(path, sample()).ok());
  {
    EnvGuard env({{"HOIST_CLI_CONFIG", path.c_str()},
                  {"HOIST_TOKEN", "hoist_api_env_tok"},
                  {"HOIST_SERVER", nullptr},
                  {"HOIST_CA_FINGERPRINT", nullptr},
                  {"HOIST_CA_FILE", "/etc/ca.pem"}});
    auto c = current_credentials();
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->token, "hoist_api_env_tok");
    EXPECT_EQ(c->server, "https://hoist.example:8443");
    EXPECT_EQ(c->ca_file, "/etc/ca.pem");
    EXPECT_EQ(c->ca_fingerprint, "AB:CD");
  }
  {
    EnvGuard env({{"HOIST_CLI_CONFIG", (dir.path() + "/none.json").c_str()},
                  {"HOIST_TOKEN", nullptr},
                  {"HOIST_SERVER", nullptr},
                  {"HOIST_CA_FINGERPRINT", nullptr},
                  {"HOIST_CA_FILE", nullptr}});
    auto c = current_credentials();
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().code, ErrorCode::kUnauthenticated);
    EXPECT_NE(c.error().message.find("hoist login"), std::string::npos);
  }
  {
    // Server and token from the environment but no way to trust the server.
    EnvGuard env({{"HOIST_CLI_CONFIG", (dir.path() + "/none.json").c_str()},
                  {"HOIST_TOKEN", "t"},
                  {"HOIST_SERVER", "https://h:1"},
                  {"HOIST_CA_FINGERPRINT", nullptr},
                  {"HOIST_CA_FILE", nullptr}});
    auto c = current_credentials();
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument);
  }
}

// --- Client-side audit verification ----------------------------------------

// Serves GET /api/v1/audit/head and GET /api/v1/audit?details=text&after=&limit=
// from a vector of events, as hoistd does; tests then damage the events.
class FakeAuditApi final : public ApiClient {
 public:
  std::vector<AuditEvent> events;
  std::optional<ChainHead> head_override;
  int requests = 0;

  Result<net::HttpResponse> send(std::string_view method, std::string_view target, std::string_view /*body*/,
                                 const std::vector<net::Header>& /*headers*/) override {
    ++requests;
    EXPECT_EQ(method, "GET");
    net::HttpResponse r;
    if (target == "/api/v1/audit/head") {
      std::optional<ChainHead> head = head_override;
      if (!head && !events.empty()) {
        head = ChainHead{events.back().seq, events.back().hash};
      }
      r.body =
          head ? fmt::format(R"({{"seq":{},"hash":"{}"}})", head->seq, head->hash.hex()) : R"({"seq":0,"hash":null})";
      return r;
    }
    std::uint64_t after = 0;
    std::size_t limit = 0;
    if (std::sscanf(std::string(target).c_str(), "/api/v1/audit?details=text&after=%lu&limit=%zu", &after, &limit) !=
        2) {
      ADD_FAILURE() << "unexpected target " << target;
      r.status = 404;
      return r;
    }
    json::array out;
    for (const auto& e : events) {
      if (e.seq > after && out.size() < limit) {
        const auto ms = e.time.time_since_epoch().count();
        const auto secs = std::chrono::sys_seconds{std::chrono::seconds{ms / 1000}};
        auto time = format_time(secs);
        time.insert(time.size() - 1, fmt::format(".{:03}", ms % 1000));
        out.push_back(json::object{{"seq", e.seq},
                                   {"time", time},
                                   {"actor", e.actor},
                                   {"action", e.action},
                                   {"target", e.target},
                                   {"host", e.host},
                                   {"details", e.details},
                                   {"prev_hash", e.prev_hash.hex()},
                                   {"hash", e.hash.hex()}});
      }
    }
    r.body = json::serialize(json::object{{"events", std::move(out)}, {"next_after", nullptr}});
    return r;
  }

  static std::string format_time(std::chrono::sys_seconds t) { return format_timestamp(t); }
};

std::vector<AuditEvent> make_chain(int n) {
  std::vector<AuditEvent> out;
  std::optional<AuditEvent> prev;
  for (int i = 0; i < n; ++i) {
    AuditEvent e;
    e.time = AuditTime{std::chrono::milliseconds{1'795'000'000'000LL + i * 1234LL}};
    e.actor = i % 2 == 0 ? "alice" : "agent:web-1";
    e.action = "request.created";
    e.target = fmt::format("req-{}", i);
    e.host = "web-1";
    // Text a re-serialiser would change: spacing, key order, escapes.
    e.details = fmt::format(R"({{"b": 1, "a":"\u00e9 {}"}})", i);
    e = chain_after(prev, e);
    prev = e;
    out.push_back(e);
  }
  return out;
}

TEST(AuditVerify, AnIntactChainVerifiesAcrossPages) {
  FakeAuditApi api;
  api.events = make_chain(23);
  auto v = verify_remote_chain(api, std::nullopt, 5);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_TRUE(v->chain.ok) << v->chain.problem;
  EXPECT_EQ(v->chain.events_checked, 23U);
  EXPECT_EQ(v->head.seq, 23U);
  EXPECT_EQ(v->head.hash, api.events.back().hash);
  EXPECT_EQ(api.requests, 1 + 5);  // the head, then 5 pages
  // Against a remembered head in the middle, and at the end.
  auto mid = verify_remote_chain(api, ChainHead{10, api.events[9].hash}, 5);
  ASSERT_TRUE(mid.ok());
  EXPECT_TRUE(mid->chain.ok) << mid->chain.problem;
  auto end = verify_remote_chain(api, ChainHead{23, api.events[22].hash}, 7);
  ASSERT_TRUE(end.ok());
  EXPECT_TRUE(end->chain.ok) << end->chain.problem;
}

TEST(AuditVerify, AnEmptyTrailVerifies) {
  FakeAuditApi api;
  auto v = verify_remote_chain(api, std::nullopt);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->chain.ok);
  EXPECT_EQ(v->head.seq, 0U);
}

TEST(AuditVerify, FindsAnEditedEvent) {
  FakeAuditApi api;
  api.events = make_chain(12);
  api.events[6].details = R"({"b": 1, "a":"\u00e9 7"})";  // one character
  auto v = verify_remote_chain(api, std::nullopt, 5);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->chain.ok);
  EXPECT_EQ(v->chain.first_bad_seq, 7U);
  EXPECT_EQ(v->chain.events_checked, 6U);  // every event before the edited one
}

TEST(AuditVerify, FindsARemovedEvent) {
  FakeAuditApi api;
  api.events = make_chain(12);
  api.events.erase(api.events.begin() + 3);
  auto v = verify_remote_chain(api, std::nullopt, 100);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->chain.ok);
  EXPECT_EQ(v->chain.first_bad_seq, 4U);
}

TEST(AuditVerify, FindsARewrittenTailOnlyAgainstARememberedHead) {
  FakeAuditApi api;
  api.events = make_chain(12);
  const ChainHead remembered{12, api.events[11].hash};
  // Drop the last three events: the rest is a valid chain...
  api.events.resize(9);
  auto v = verify_remote_chain(api, std::nullopt);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->chain.ok);
  // ...but not against the head remembered before.
  v = verify_remote_chain(api, remembered);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->chain.ok);
  EXPECT_NE(v->chain.problem.find("removed from its end"), std::string::npos) << v->chain.problem;
  // Re-chained events after seq 9 with other content.
  auto rewritten = make_chain(12);
  rewritten[10].target = "req-other";
  std::optional<AuditEvent> prev = rewritten[9];
  for (std::size_t i = 10; i < rewritten.size(); ++i) {
    rewritten[i] = chain_after(prev, rewritten[i]);
    prev = rewritten[i];
  }
  api.events = rewritten;
  v = verify_remote_chain(api, remembered);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->chain.ok);
  EXPECT_EQ(v->chain.first_bad_seq, 12U);
}

TEST(AuditVerify, AHeadThatIsNotTheLastEventServedFails) {
  FakeAuditApi api;
  api.events = make_chain(5);
  api.head_override = ChainHead{5, api.events[2].hash};
  auto v = verify_remote_chain(api, std::nullopt);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->chain.ok);
  api.head_override = ChainHead{8, api.events[4].hash};  // claims more than it serves
  v = verify_remote_chain(api, std::nullopt);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->chain.ok);
  EXPECT_NE(v->chain.problem.find("missing"), std::string::npos) << v->chain.problem;
}

TEST(AuditVerify, ParsesHeadsAndEvents) {
  const auto hash = std::string(64, 'a');
  auto head = parse_chain_head("42:" + hash);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->seq, 42U);
  for (const std::string& bad :
       std::vector<std::string>{"", "42", ":" + hash, "0:" + hash, "x:" + hash, "42:abc", "-1:" + hash}) {
    EXPECT_FALSE(parse_chain_head(bad).ok()) << bad;
  }
  auto e = audit_event_from_json(
      json::parse(R"({"seq":3,"time":"2026-11-24T09:30:00.042Z","actor":"a","action":"b","target":"c","host":"",)"
                  R"("details":"{}","prev_hash":")" +
                  hash + R"(","hash":")" + hash + R"("})"));
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->time.time_since_epoch().count() % 1000, 42);
  // details as an object (without ?details=text) cannot be hashed.
  auto obj = audit_event_from_json(json::parse(R"({"seq":3,"time":"2026-11-24T09:30:00.042Z","actor":"a",)"
                                               R"("action":"b","target":"c","host":"","details":{},)"
                                               R"("prev_hash":"x","hash":"y"})"));
  ASSERT_FALSE(obj.ok());
  EXPECT_NE(obj.error().message.find("details"), std::string::npos);
}

}  // namespace
}  // namespace hoist::cli
