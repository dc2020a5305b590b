#include "agent_state_conformance.h"

#include <fmt/format.h>

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

namespace hoist::agent::testing {
namespace {

TimePoint at(std::int64_t s) {
  return TimePoint{Seconds{s}};
}

Identity sample_identity() {
  Identity id;
  id.server_url = "https://hoist.example.com:8443";
  id.ca_pin_sha256 = std::string(64, 'a');
  id.endpoint_id = "ep_0123456789";
  id.credential = "hoist_agent_s3cr3t";
  id.hostname = "web-01.example.com";
  id.labels = {"linux", "prod", "web"};
  id.enrolled_at = at(1'700'000'000);
  return id;
}

PolicySnapshot sample_policy() {
  PolicySnapshot p;
  p.etag = "\"v17\"";
  p.fetched_at = at(1'700'000'100);
  p.labels = {"prod", "web"};
  p.documents = {{"base", 3, "[[rule]]\nname = \"apt\"\naction = \"allow\"\n"},
                 {"web", 1, "# caf\xc3\xa9 'quotes' \"double\"\n"},
                 {"empty", 2, ""}};
  return p;
}

Grant command_grant(const std::string& id, std::uint32_t uid, std::int64_t start, std::int64_t deadline) {
  Grant g;
  g.id = id;
  g.user = fmt::format("user{}", uid);
  g.uid = uid;
  g.kind = GrantKind::kCommand;
  g.scope.command_path = "/usr/bin/apt-get";
  g.scope.sha256 = std::string(64, 'f');
  g.scope.argv_patterns = {"update", "install *", std::string("\xff\xfe raw bytes", 12)};
  g.scope.runas_user = "postgres";
  g.scope.runas_group = "dba";
  g.start = at(start);
  g.deadline = at(deadline);
  g.record_processes = false;
  g.origin = GrantOrigin::kServer;
  return g;
}

Grant session_grant(const std::string& id, std::uint32_t uid, std::int64_t start, std::int64_t deadline) {
  Grant g;
  g.id = id;
  g.user = fmt::format("user{}", uid);
  g.uid = uid;
  g.kind = GrantKind::kSession;
  g.start = at(start);
  g.deadline = at(deadline);
  g.record_processes = true;
  g.origin = GrantOrigin::kOfflineCode;
  return g;
}

// Event ids that do not sort in enqueue order, so order by id would show.
std::string event_id(int n) {
  return fmt::format("{:08x}{:024x}", static_cast<unsigned>((n * 2654435761U) & 0xffffffffU), n);
}

OutboxEvent event(int n, std::string payload = "") {
  return OutboxEvent{event_id(n), "decision", EventTime{std::chrono::milliseconds{1'700'000'000'000 + n}},
                     payload.empty() ? fmt::format("{{\"n\":{}}}", n) : std::move(payload)};
}

std::vector<std::string> ids_of(const std::vector<OutboxEvent>& events) {
  std::vector<std::string> out;
  out.reserve(events.size());
  for (const auto& e : events) out.push_back(e.id);
  return out;
}

std::vector<std::string> ids_of(const std::vector<Grant>& grants) {
  std::vector<std::string> out;
  out.reserve(grants.size());
  for (const auto& g : grants) out.push_back(g.id);
  return out;
}

#define ASSERT_OK(expr)                                          \
  do {                                                           \
    const auto& r_ = (expr);                                     \
    ASSERT_TRUE(r_.ok()) << #expr << ": " << r_.error().message; \
  } while (0)

void expect_code(const Status& st, ErrorCode code, const std::string& context) {
  ASSERT_FALSE(st.ok()) << context;
  EXPECT_EQ(st.error().code, code) << context << ": " << st.error().message;
  EXPECT_FALSE(st.error().message.empty()) << context;
}

TEST_P(AgentStateConformance, StartsEmpty) {
  EXPECT_EQ(*state_->identity(), std::nullopt);
  EXPECT_EQ(*state_->policy(), std::nullopt);
  EXPECT_TRUE(state_->grants()->empty());
  EXPECT_TRUE(state_->active_grants(1000, at(0))->empty());
  EXPECT_TRUE(state_->pending_requests_for(1000)->empty());
  EXPECT_TRUE(state_->next_batch(kMaxBatch)->empty());
  EXPECT_EQ(*state_->pending_count(), 0U);
  EXPECT_EQ(*state_->push_cursor(), 0U);
}

TEST_P(AgentStateConformance, IdentityRoundTripsAndIsReplacedWhole) {
  const Identity first = sample_identity();
  ASSERT_OK(state_->set_identity(first));
  EXPECT_EQ(*state_->identity(), first);

  Identity second = first;
  second.endpoint_id = "ep_other";
  second.credential = "hoist_agent_rotated";
  second.labels = {"lab"};  // fewer labels: none of the old may remain
  second.enrolled_at = at(1'800'000'000);
  ASSERT_OK(state_->set_identity(second));
  EXPECT_EQ(*state_->identity(), second);

  second.labels.clear();
  ASSERT_OK(state_->set_identity(second));
  EXPECT_EQ(*state_->identity(), second);
  reopen();
  EXPECT_EQ(*state_->identity(), second);

  // The admin-code key (any bytes) and its generation ride along.
  second.codes_key.assign(32, 0);
  for (std::size_t i = 0; i < 32; ++i) second.codes_key[i] = static_cast<std::uint8_t>(i * 37);
  second.codes_key_generation = 7;
  ASSERT_OK(state_->set_identity(second));
  reopen();
  EXPECT_EQ(*state_->identity(), second);
  second.codes_key.clear();
  second.codes_key_generation = 0;
  ASSERT_OK(state_->set_identity(second));
  EXPECT_EQ(*state_->identity(), second);
}

TEST_P(AgentStateConformance, IdentityKeepsTheServerUrlsInOrder) {
  Identity id = sample_identity();
  EXPECT_EQ(server_urls(id), std::vector<std::string>{id.server_url});
  id.fallback_server_urls = {"https://b.example.com:8443", "https://a.example.com", "https://[::1]:8443"};
  ASSERT_OK(state_->set_identity(id));
  EXPECT_EQ(*state_->identity(), id);
  reopen();
  EXPECT_EQ(*state_->identity(), id);
  EXPECT_EQ(server_urls(**state_->identity()),
            (std::vector<std::string>{id.server_url, "https://b.example.com:8443", "https://a.example.com",
                                      "https://[::1]:8443"}));
  // Fewer: none of the old may remain.
  id.fallback_server_urls = {"https://a.example.com"};
  ASSERT_OK(state_->set_identity(id));
  EXPECT_EQ(*state_->identity(), id);
  id.fallback_server_urls.clear();
  ASSERT_OK(state_->set_identity(id));
  reopen();
  EXPECT_EQ(*state_->identity(), id);
  // The most there may be.
  for (std::size_t i = 1; i < kMaxServerUrls; ++i) {
    id.fallback_server_urls.push_back("https://replica-" + std::to_string(i) + ".example.com");
  }
  ASSERT_OK(state_->set_identity(id));
  EXPECT_EQ(*state_->identity(), id);
}

TEST_P(AgentStateConformance, ServerAnswerRoundTrips) {
  EXPECT_EQ(*state_->server_answer(), std::nullopt);
  const ServerAnswer first{"https://a.example.com:8443", at(1'700'000'000)};
  ASSERT_OK(state_->set_server_answer(first));
  EXPECT_EQ(*state_->server_answer(), first);
  const ServerAnswer second{"https://b.example.com:8443", at(1'700'000'500)};
  ASSERT_OK(state_->set_server_answer(second));
  reopen();
  EXPECT_EQ(*state_->server_answer(), second);
  expect_code(state_->set_server_answer(ServerAnswer{"http://c.example.com", at(1)}), ErrorCode::kInvalidArgument,
              "http");
  expect_code(state_->set_server_answer(ServerAnswer{"", at(1)}), ErrorCode::kInvalidArgument, "empty");
  EXPECT_EQ(*state_->server_answer(), second);
}

TEST_P(AgentStateConformance, IdentityRefusesBadInputAndKeepsTheOld) {
  const Identity good = sample_identity();
  ASSERT_OK(state_->set_identity(good));
  struct Case {
    std::string name;
    std::function<void(Identity&)> change;
  };
  const std::vector<Case> cases = {
      {"http url", [](Identity& i) { i.server_url = "http://hoist.example.com"; }},
      {"empty url", [](Identity& i) { i.server_url.clear(); }},
      {"long url", [](Identity& i) { i.server_url = "https://" + std::string(kMaxUrlBytes, 'a'); }},
      {"short pin", [](Identity& i) { i.ca_pin_sha256 = std::string(63, 'a'); }},
      {"upper-case pin", [](Identity& i) { i.ca_pin_sha256 = std::string(64, 'A'); }},
      {"credential prefix", [](Identity& i) { i.credential = "hoist_token_x"; }},
      {"long credential", [](Identity& i) { i.credential = "hoist_agent_" + std::string(kMaxCredentialBytes, 'x'); }},
      {"empty endpoint id", [](Identity& i) { i.endpoint_id.clear(); }},
      {"endpoint id with a slash", [](Identity& i) { i.endpoint_id = "ep/../x"; }},
      {"NUL in hostname", [](Identity& i) { i.hostname = std::string("web\0x", 5); }},
      {"long hostname", [](Identity& i) { i.hostname = std::string(kMaxNameBytes + 1, 'h'); }},
      {"empty label",
       [](Identity& i) {
         i.labels = {"ok", ""};
       }},
      {"too many labels", [](Identity& i) { i.labels.assign(kMaxLabels + 1, "l"); }},
      {"short codes key",
       [](Identity& i) {
         i.codes_key.assign(31, 1);
         i.codes_key_generation = 1;
       }},
      {"codes key without a generation", [](Identity& i) { i.codes_key.assign(32, 1); }},
      {"generation without a codes key", [](Identity& i) { i.codes_key_generation = 1; }},
      {"http fallback url",
       [](Identity& i) {
         i.fallback_server_urls = {"https://b.example.com", "http://c"};
       }},
      {"empty fallback url", [](Identity& i) { i.fallback_server_urls = {""}; }},
      {"fallback url given twice",
       [](Identity& i) {
         i.fallback_server_urls = {"https://b.example.com", "https://b.example.com"};
       }},
      {"fallback url same as the first", [](Identity& i) { i.fallback_server_urls = {i.server_url}; }},
      {"long fallback url",
       [](Identity& i) { i.fallback_server_urls = {"https://" + std::string(kMaxUrlBytes, 'a')}; }},
      {"too many server urls",
       [](Identity& i) {
         for (std::size_t n = 0; n < kMaxServerUrls; ++n) {
           i.fallback_server_urls.push_back("https://r" + std::to_string(n) + ".example.com");
         }
       }},
  };
  for (const auto& c : cases) {
    Identity bad = good;
    c.change(bad);
    expect_code(state_->set_identity(bad), ErrorCode::kInvalidArgument, c.name);
    EXPECT_EQ(*state_->identity(), good) << c.name;
  }
}

TEST_P(AgentStateConformance, PolicyRoundTripsAndIsReplacedWhole) {
  const PolicySnapshot first = sample_policy();
  ASSERT_OK(state_->set_policy(first));
  EXPECT_EQ(*state_->policy(), first);

  PolicySnapshot second;
  second.etag = "";
  second.fetched_at = at(1'800'000'000);
  second.documents = {{"web", 2, std::string(std::size_t{1024} * 1024, 'x')}};
  ASSERT_OK(state_->set_policy(second));
  EXPECT_EQ(*state_->policy(), second);
  reopen();
  EXPECT_EQ(*state_->policy(), second);

  PolicySnapshot none;  // a snapshot of no documents is still a snapshot
  ASSERT_OK(state_->set_policy(none));
  EXPECT_EQ(*state_->policy(), none);
}

TEST_P(AgentStateConformance, PolicyRefusesBadInputAndKeepsTheOld) {
  const PolicySnapshot good = sample_policy();
  ASSERT_OK(state_->set_policy(good));
  struct Case {
    std::string name;
    std::function<void(PolicySnapshot&)> change;
  };
  const std::vector<Case> cases = {
      {"duplicate name",
       [](PolicySnapshot& p) {
         p.documents.push_back({"base", 9, ""});
       }},
      {"version 0", [](PolicySnapshot& p) { p.documents[0].version = 0; }},
      {"empty name", [](PolicySnapshot& p) { p.documents[0].name.clear(); }},
      {"NUL in text", [](PolicySnapshot& p) { p.documents[0].text = std::string("a\0b", 3); }},
      {"document too large", [](PolicySnapshot& p) { p.documents[0].text.assign(kMaxPolicyBytes + 1, 'x'); }},
      {"long etag", [](PolicySnapshot& p) { p.etag.assign(kMaxNameBytes + 1, 'e'); }},
      {"snapshot too large",
       [](PolicySnapshot& p) {
         p.documents.clear();
         for (int i = 0; i < 5; ++i)
           p.documents.push_back({fmt::format("p{}", i), 1, std::string(kMaxPolicyBytes, 'x')});
       }},
  };
  for (const auto& c : cases) {
    PolicySnapshot bad = good;
    c.change(bad);
    expect_code(state_->set_policy(bad), ErrorCode::kInvalidArgument, c.name);
    EXPECT_EQ(*state_->policy(), good) << c.name;
  }
}

TEST_P(AgentStateConformance, GrantsRoundTripExactly) {
  const Grant command = command_grant("req-2", 1000, 100, 200);
  Grant session = session_grant("req-1", 1001, 100, 300);
  Grant unhashed = command_grant("req-3", 1000, 100, 400);
  unhashed.scope.sha256.reset();
  unhashed.scope.argv_patterns.clear();
  unhashed.origin = GrantOrigin::kBreakGlass;
  unhashed.revoked_at = at(150);
  for (const Grant& g : {command, session, unhashed}) ASSERT_OK(state_->upsert_grant(g));
  EXPECT_EQ(*state_->grant("req-2"), command);
  EXPECT_EQ(*state_->grant("req-1"), session);
  EXPECT_EQ(*state_->grant("req-3"), unhashed);
  EXPECT_EQ(*state_->grant("req-9"), std::nullopt);
  EXPECT_EQ(ids_of(*state_->grants()), (std::vector<std::string>{"req-1", "req-2", "req-3"}));
  reopen();
  EXPECT_EQ(*state_->grants(), (std::vector<Grant>{session, command, unhashed}));
}

TEST_P(AgentStateConformance, UpsertReplacesTheGrant) {
  ASSERT_OK(state_->upsert_grant(command_grant("req-1", 1000, 100, 200)));
  Grant changed = command_grant("req-1", 1000, 100, 500);  // extended by the server
  changed.scope.argv_patterns = {"only-this"};
  changed.record_processes = true;
  ASSERT_OK(state_->upsert_grant(changed));
  EXPECT_EQ(*state_->grant("req-1"), changed);
  changed.scope.argv_patterns.clear();
  ASSERT_OK(state_->upsert_grant(changed));
  EXPECT_EQ(*state_->grant("req-1"), changed);
  EXPECT_EQ(state_->grants()->size(), 1U);
}

TEST_P(AgentStateConformance, ActiveGrantsAtTheBoundaries) {
  ASSERT_OK(state_->upsert_grant(command_grant("a", 1000, 100, 200)));
  ASSERT_OK(state_->upsert_grant(session_grant("b", 1000, 100, 150)));
  ASSERT_OK(state_->upsert_grant(command_grant("c", 1001, 100, 200)));  // another user
  Grant revoked = command_grant("d", 1000, 100, 300);
  revoked.revoked_at = at(120);
  ASSERT_OK(state_->upsert_grant(revoked));

  EXPECT_EQ(ids_of(*state_->active_grants(1000, at(100))), (std::vector<std::string>{"b", "a"}));  // by deadline
  EXPECT_EQ(ids_of(*state_->active_grants(1000, at(149))), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(ids_of(*state_->active_grants(1000, at(150))), (std::vector<std::string>{"a"}));  // deadline == now
  EXPECT_EQ(ids_of(*state_->active_grants(1000, at(199))), (std::vector<std::string>{"a"}));
  EXPECT_TRUE(state_->active_grants(1000, at(200))->empty());
  EXPECT_TRUE(state_->active_grants(1000, at(10'000))->empty());
  EXPECT_EQ(ids_of(*state_->active_grants(1001, at(199))), (std::vector<std::string>{"c"}));
  EXPECT_TRUE(state_->active_grants(4242, at(150))->empty());
  // The server's start time is not compared (clock skew must not void a
  // grant just approved).
  EXPECT_EQ(ids_of(*state_->active_grants(1001, at(90))), (std::vector<std::string>{"c"}));
}

TEST_P(AgentStateConformance, RevocationIsStickyAndKeepsTheFirstTime) {
  ASSERT_OK(state_->upsert_grant(command_grant("a", 1000, 100, 200)));
  ASSERT_OK(state_->revoke_grant("a", at(130)));
  EXPECT_TRUE(state_->active_grants(1000, at(120))->empty());  // revoked means revoked, whenever asked
  ASSERT_OK(state_->revoke_grant("a", at(140)));
  EXPECT_EQ((*state_->grant("a"))->revoked_at, at(130));
  // A stale copy from the server (not revoked) does not revive it.
  ASSERT_OK(state_->upsert_grant(command_grant("a", 1000, 100, 900)));
  EXPECT_EQ((*state_->grant("a"))->revoked_at, at(130));
  EXPECT_EQ((*state_->grant("a"))->deadline, at(900));
  EXPECT_TRUE(state_->active_grants(1000, at(150))->empty());
  reopen();
  EXPECT_EQ((*state_->grant("a"))->revoked_at, at(130));

  expect_code(state_->revoke_grant("nope", at(1)), ErrorCode::kNotFound, "unknown grant");
  expect_code(state_->revoke_grant("bad id!", at(1)), ErrorCode::kInvalidArgument, "bad id");
}

TEST_P(AgentStateConformance, DeletesGrantsThatEndedBefore) {
  ASSERT_OK(state_->upsert_grant(command_grant("old", 1000, 100, 200)));
  ASSERT_OK(state_->upsert_grant(command_grant("edge", 1000, 100, 500)));
  ASSERT_OK(state_->upsert_grant(session_grant("live", 1000, 100, 900)));
  Grant revoked = command_grant("revoked", 1000, 100, 900);
  revoked.revoked_at = at(300);
  ASSERT_OK(state_->upsert_grant(revoked));

  EXPECT_EQ(*state_->delete_grants_ended_before(at(200)), 0U);  // ended at 200, not before
  EXPECT_EQ(*state_->delete_grants_ended_before(at(500)), 2U);  // old, revoked
  EXPECT_EQ(ids_of(*state_->grants()), (std::vector<std::string>{"edge", "live"}));
  EXPECT_EQ(*state_->delete_grants_ended_before(at(500)), 0U);
  // The patterns went with the grant: the same id comes back with its own.
  Grant again = command_grant("old", 1000, 100, 200);
  again.scope.argv_patterns = {"x"};
  ASSERT_OK(state_->upsert_grant(again));
  EXPECT_EQ(*state_->grant("old"), again);
}

TEST_P(AgentStateConformance, GrantRefusesBadInput) {
  struct Case {
    std::string name;
    std::function<void(Grant&)> change;
  };
  const std::vector<Case> cases = {
      {"deadline at start", [](Grant& g) { g.deadline = g.start; }},
      {"deadline before start", [](Grant& g) { g.deadline = g.start - Seconds{1}; }},
      {"relative path", [](Grant& g) { g.scope.command_path = "bin/sh"; }},
      {"empty path", [](Grant& g) { g.scope.command_path.clear(); }},
      {"long path", [](Grant& g) { g.scope.command_path = "/" + std::string(kMaxPathBytes, 'p'); }},
      {"NUL in path", [](Grant& g) { g.scope.command_path = std::string("/bin/s\0h", 8); }},
      {"bad sha256", [](Grant& g) { g.scope.sha256 = "abc"; }},
      {"no target user", [](Grant& g) { g.scope.runas_user.clear(); }},
      {"long target group", [](Grant& g) { g.scope.runas_group.assign(kMaxNameBytes + 1, 'g'); }},
      {"too many patterns", [](Grant& g) { g.scope.argv_patterns.assign(kMaxArgvPatterns + 1, "x"); }},
      {"empty id", [](Grant& g) { g.id.clear(); }},
      {"long id", [](Grant& g) { g.id.assign(kMaxIdBytes + 1, 'i'); }},
      {"id with a quote", [](Grant& g) { g.id = "a'b"; }},
      {"empty user", [](Grant& g) { g.user.clear(); }},
      {"uid -1", [](Grant& g) { g.uid = std::numeric_limits<std::uint32_t>::max(); }},
      {"session with a scope",
       [](Grant& g) {
         g.kind = GrantKind::kSession;
         g.scope.sha256.reset();
         g.scope.argv_patterns.clear();
       }},
  };
  for (const auto& c : cases) {
    Grant bad = command_grant("g", 1000, 100, 200);
    c.change(bad);
    expect_code(state_->upsert_grant(bad), ErrorCode::kInvalidArgument, c.name);
  }
  EXPECT_TRUE(state_->grants()->empty());
}

TEST_P(AgentStateConformance, PendingRequestsRoundTrip) {
  const PendingRequest a{"req-a", 1000, "alice", "apt-get update", at(300), "pending"};
  const PendingRequest b{"req-b", 1000, "alice", "systemctl restart nginx", at(100), "pending"};
  const PendingRequest c{"req-c", 1001, "bob", "", at(200), "pending"};
  const PendingRequest d{"req-0", 1000, "alice", "ls", at(300), "pending"};  // same time as a: by id
  for (const auto& r : {a, b, c, d}) ASSERT_OK(state_->upsert_pending_request(r));
  EXPECT_EQ(*state_->pending_request("req-a"), a);
  EXPECT_EQ(*state_->pending_request("req-x"), std::nullopt);
  EXPECT_EQ(*state_->pending_requests_for(1000), (std::vector<PendingRequest>{b, d, a}));
  EXPECT_EQ(*state_->pending_requests_for(1001), (std::vector<PendingRequest>{c}));

  PendingRequest approved = a;
  approved.state = "approved";
  ASSERT_OK(state_->upsert_pending_request(approved));
  EXPECT_EQ(*state_->pending_request("req-a"), approved);
  reopen();
  EXPECT_EQ(*state_->pending_request("req-a"), approved);

  EXPECT_TRUE(*state_->remove_pending_request("req-a"));
  EXPECT_FALSE(*state_->remove_pending_request("req-a"));
  EXPECT_EQ(*state_->pending_requests_for(1000), (std::vector<PendingRequest>{b, d}));

  PendingRequest bad = a;
  bad.command_summary.assign(kMaxSummaryBytes + 1, 's');
  expect_code(state_->upsert_pending_request(bad), ErrorCode::kInvalidArgument, "long summary");
  bad = a;
  bad.state.clear();
  expect_code(state_->upsert_pending_request(bad), ErrorCode::kInvalidArgument, "empty state");
  bad = a;
  bad.id = "x y";
  expect_code(state_->upsert_pending_request(bad), ErrorCode::kInvalidArgument, "id with a space");
}

TEST_P(AgentStateConformance, OutboxKeepsEnqueueOrder) {
  std::vector<std::string> expected;
  for (int n = 1; n <= 10; ++n) {
    ASSERT_OK(state_->enqueue(event(n)));
    expected.push_back(event_id(n));
  }
  std::set<std::string> sorted(expected.begin(), expected.end());
  ASSERT_NE(std::vector<std::string>(sorted.begin(), sorted.end()), expected) << "ids must not sort in order";
  EXPECT_EQ(*state_->pending_count(), 10U);
  EXPECT_EQ(*state_->next_batch(kMaxBatch),
            (std::vector<OutboxEvent>{event(1), event(2), event(3), event(4), event(5), event(6), event(7), event(8),
                                      event(9), event(10)}));
  const auto first = *state_->next_batch(3);
  EXPECT_EQ(ids_of(first), (std::vector<std::string>{event_id(1), event_id(2), event_id(3)}));
  // next_batch does not consume.
  EXPECT_EQ(ids_of(*state_->next_batch(3)), ids_of(first));

  ASSERT_OK(state_->acknowledge(ids_of(first)));
  EXPECT_EQ(*state_->pending_count(), 7U);
  EXPECT_EQ(ids_of(*state_->next_batch(2)), (std::vector<std::string>{event_id(4), event_id(5)}));
  // Acknowledged out of order: the rest keep their order.
  ASSERT_OK(state_->acknowledge({event_id(7), event_id(5)}));
  EXPECT_EQ(ids_of(*state_->next_batch(kMaxBatch)),
            (std::vector<std::string>{event_id(4), event_id(6), event_id(8), event_id(9), event_id(10)}));
  ASSERT_OK(state_->enqueue(event(11)));
  EXPECT_EQ(ids_of(*state_->next_batch(kMaxBatch)).back(), event_id(11));
}

TEST_P(AgentStateConformance, EnqueueIsIdempotent) {
  ASSERT_OK(state_->enqueue(event(1, "{\"first\":true}")));
  ASSERT_OK(state_->enqueue(event(2)));
  ASSERT_OK(state_->enqueue(event(1, "{\"second\":true}")));  // a retry: no-op, the first is kept
  ASSERT_OK(state_->enqueue_all({event(3), event(2), event(3)}));
  EXPECT_EQ(*state_->pending_count(), 3U);
  const auto all = *state_->next_batch(kMaxBatch);
  EXPECT_EQ(ids_of(all), (std::vector<std::string>{event_id(1), event_id(2), event_id(3)}));
  EXPECT_EQ(all[0].payload, "{\"first\":true}");
}

TEST_P(AgentStateConformance, AcknowledgingUnknownIdsIsHarmless) {
  ASSERT_OK(state_->enqueue(event(1)));
  ASSERT_OK(state_->acknowledge({event_id(99), event_id(98)}));
  ASSERT_OK(state_->acknowledge({}));
  EXPECT_EQ(*state_->pending_count(), 1U);
  ASSERT_OK(state_->acknowledge({event_id(1), event_id(1)}));
  ASSERT_OK(state_->acknowledge({event_id(1)}));
  EXPECT_EQ(*state_->pending_count(), 0U);
  // A malformed id is a caller's bug: refused, and nothing is deleted.
  ASSERT_OK(state_->enqueue(event(2)));
  expect_code(state_->acknowledge({event_id(2), "not-an-id"}), ErrorCode::kInvalidArgument, "malformed id");
  EXPECT_EQ(*state_->pending_count(), 1U);
}

TEST_P(AgentStateConformance, EnqueueAllIsAllOrNothing) {
  OutboxEvent bad = event(3);
  bad.kind.clear();
  expect_code(state_->enqueue_all({event(1), event(2), bad}), ErrorCode::kInvalidArgument, "empty kind");
  EXPECT_EQ(*state_->pending_count(), 0U);
  ASSERT_OK(state_->enqueue_all({event(1), event(2)}));
  EXPECT_EQ(*state_->pending_count(), 2U);
  ASSERT_OK(state_->enqueue_all({}));
  std::vector<OutboxEvent> too_many;
  for (int n = 0; n <= static_cast<int>(kMaxBatch); ++n) too_many.push_back(event(100 + n));
  expect_code(state_->enqueue_all(too_many), ErrorCode::kInvalidArgument, "too many");
  EXPECT_EQ(*state_->pending_count(), 2U);
}

TEST_P(AgentStateConformance, EventsAreChecked) {
  struct Case {
    std::string name;
    std::function<void(OutboxEvent&)> change;
  };
  const std::vector<Case> cases = {
      {"short id", [](OutboxEvent& e) { e.id.pop_back(); }},
      {"upper-case id", [](OutboxEvent& e) { e.id = std::string(32, 'A'); }},
      {"non-hex id", [](OutboxEvent& e) { e.id = std::string(32, 'g'); }},
      {"empty kind", [](OutboxEvent& e) { e.kind.clear(); }},
      {"long kind", [](OutboxEvent& e) { e.kind.assign(kMaxNameBytes + 1, 'k'); }},
      {"empty payload", [](OutboxEvent& e) { e.payload.clear(); }},
      {"long payload", [](OutboxEvent& e) { e.payload.assign(kMaxPayloadBytes + 1, ' '); }},
      {"NUL in payload", [](OutboxEvent& e) { e.payload = std::string("{\0}", 3); }},
  };
  for (const auto& c : cases) {
    OutboxEvent bad = event(1);
    c.change(bad);
    expect_code(state_->enqueue(bad), ErrorCode::kInvalidArgument, c.name);
  }
  EXPECT_EQ(*state_->pending_count(), 0U);
  for (const std::size_t limit : {std::size_t{0}, kMaxBatch + 1}) {
    const auto batch = state_->next_batch(limit);
    ASSERT_FALSE(batch.ok()) << limit;
    EXPECT_EQ(batch.error().code, ErrorCode::kInvalidArgument) << limit;
  }
  // The largest payload allowed round-trips, as does text that is not ASCII.
  OutboxEvent big = event(1, std::string(kMaxPayloadBytes, 'p'));
  OutboxEvent text = event(2, "{\"who\":\"Zo\xc3\xab O'Brien \\\"q\\\"\",\"emoji\":\"\xf0\x9f\x94\x91\"}");
  ASSERT_OK(state_->enqueue_all({big, text}));
  EXPECT_EQ(*state_->next_batch(2), (std::vector<OutboxEvent>{big, text}));
}

TEST_P(AgentStateConformance, AFullOutboxRefusesAndDropsNothing) {
  recreate(OutboxLimits{3, 1000});
  for (int n = 1; n <= 3; ++n) ASSERT_OK(state_->enqueue(event(n)));
  const Status full = state_->enqueue(event(4));
  expect_code(full, ErrorCode::kUnavailable, "full");
  EXPECT_NE(full.error().message.find("full"), std::string::npos) << full.error().message;
  EXPECT_EQ(*state_->pending_count(), 3U);
  EXPECT_EQ(ids_of(*state_->next_batch(kMaxBatch)), (std::vector<std::string>{event_id(1), event_id(2), event_id(3)}));
  ASSERT_OK(state_->enqueue(event(2)));  // a retry of a queued event is still a no-op
  ASSERT_OK(state_->acknowledge({event_id(1)}));
  // A batch that does not fit stores none of it.
  expect_code(state_->enqueue_all({event(5), event(6)}), ErrorCode::kUnavailable, "batch too big");
  EXPECT_EQ(*state_->pending_count(), 2U);
  ASSERT_OK(state_->enqueue(event(5)));
  EXPECT_EQ(*state_->pending_count(), 3U);

  recreate(OutboxLimits{100, 10});  // payload bytes
  ASSERT_OK(state_->enqueue(event(1, "123456")));
  expect_code(state_->enqueue(event(2, "12345")), ErrorCode::kUnavailable, "bytes");
  ASSERT_OK(state_->enqueue(event(3, "1234")));
  ASSERT_OK(state_->acknowledge({event_id(1)}));
  ASSERT_OK(state_->enqueue(event(2, "12345")));
  EXPECT_EQ(*state_->pending_count(), 2U);
  reopen();
  expect_code(state_->enqueue(event(4, "12")), ErrorCode::kUnavailable, "bytes after reopen");
}

TEST_P(AgentStateConformance, QuarantineSetsAnEventAsideWithItsReport) {
  ASSERT_OK(state_->enqueue_all({event(1), event(2), event(3)}));
  const OutboxEvent report = event(9, "{\"quarantined\":2}");
  ASSERT_OK(state_->quarantine(event_id(2), "hoistd: details too long", at(500), report));
  // The outbox moves on: the report is queued at its end.
  EXPECT_EQ(ids_of(*state_->next_batch(kMaxBatch)), (std::vector<std::string>{event_id(1), event_id(3), event_id(9)}));
  EXPECT_EQ(*state_->pending_count(), 3U);
  EXPECT_EQ(*state_->quarantined_count(), 1U);
  const auto kept = *state_->quarantined(10);
  ASSERT_EQ(kept.size(), 1U);
  EXPECT_EQ(kept[0], (QuarantinedEvent{event(2), "hoistd: details too long", at(500)}));
  // Not in the outbox: nothing changes.
  expect_code(state_->quarantine(event_id(2), "again", at(501), report), ErrorCode::kNotFound, "gone already");
  expect_code(state_->quarantine(event_id(42), "unknown", at(501), std::nullopt), ErrorCode::kNotFound, "unknown");
  expect_code(state_->quarantine(event_id(1), std::string("a\0b", 3), at(501), std::nullopt),
              ErrorCode::kInvalidArgument, "NUL in the reason");
  expect_code(state_->quarantine(event_id(1), std::string(kMaxReasonBytes + 1, 'r'), at(501), std::nullopt),
              ErrorCode::kInvalidArgument, "long reason");
  EXPECT_EQ(*state_->pending_count(), 3U);
  // Without a report, and surviving a restart, newest first.
  ASSERT_OK(state_->quarantine(event_id(1), "", at(502), std::nullopt));
  reopen();
  EXPECT_EQ(ids_of(*state_->next_batch(kMaxBatch)), (std::vector<std::string>{event_id(3), event_id(9)}));
  const auto both = *state_->quarantined(10);
  ASSERT_EQ(both.size(), 2U);
  EXPECT_EQ(both[0].event.id, event_id(1));
  EXPECT_EQ(both[1].event.id, event_id(2));
  EXPECT_EQ(both[1].reason, "hoistd: details too long");
  const auto newest = state_->quarantined(1);
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ(newest->size(), 1U);
  EXPECT_FALSE(state_->quarantined(0).ok());
}

TEST_P(AgentStateConformance, QuarantineKeepsTheNewestAndFitsAFullOutbox) {
  recreate(OutboxLimits{2, 1000});
  ASSERT_OK(state_->enqueue_all({event(1), event(2)}));
  // Full: the report still fits, since the event it reports leaves.
  ASSERT_OK(state_->quarantine(event_id(1), "refused", at(1), event(3)));
  EXPECT_EQ(ids_of(*state_->next_batch(kMaxBatch)), (std::vector<std::string>{event_id(2), event_id(3)}));
  // A report that cannot fit: nothing changes.
  recreate(OutboxLimits{10, 20});
  ASSERT_OK(state_->enqueue(event(1, "12345")));
  expect_code(state_->quarantine(event_id(1), "refused", at(1), event(2, std::string(30, 'x'))),
              ErrorCode::kUnavailable, "report too big");
  EXPECT_EQ(*state_->pending_count(), 1U);
  EXPECT_EQ(*state_->quarantined_count(), 0U);

  recreate(OutboxLimits{});
  for (int n = 0; n < static_cast<int>(kMaxQuarantined) + 5; ++n) {
    ASSERT_OK(state_->enqueue(event(1000 + n)));
    ASSERT_OK(state_->quarantine(event_id(1000 + n), "refused", at(n), std::nullopt));
  }
  EXPECT_EQ(*state_->quarantined_count(), kMaxQuarantined);
  const auto kept = *state_->quarantined(kMaxBatch);
  ASSERT_EQ(kept.size(), kMaxQuarantined);
  EXPECT_EQ(kept.front().event.id, event_id(1000 + static_cast<int>(kMaxQuarantined) + 4));
  EXPECT_EQ(kept.back().event.id, event_id(1005)) << "the five oldest went";
}

TEST_P(AgentStateConformance, EverythingSurvivesAReopen) {
  ASSERT_OK(state_->set_identity(sample_identity()));
  ASSERT_OK(state_->set_policy(sample_policy()));
  ASSERT_OK(state_->upsert_grant(command_grant("g1", 1000, 100, 200)));
  ASSERT_OK(state_->upsert_pending_request({"r1", 1000, "alice", "ls", at(1), "pending"}));
  ASSERT_OK(state_->enqueue_all({event(1), event(2), event(3)}));
  ASSERT_OK(state_->acknowledge({event_id(2)}));
  ASSERT_OK(state_->set_push_cursor(77));
  reopen();
  EXPECT_EQ(*state_->identity(), sample_identity());
  EXPECT_EQ(*state_->policy(), sample_policy());
  EXPECT_EQ(*state_->grant("g1"), command_grant("g1", 1000, 100, 200));
  EXPECT_EQ(state_->pending_requests_for(1000)->size(), 1U);
  EXPECT_EQ(*state_->next_batch(10), (std::vector<OutboxEvent>{event(1), event(3)}));
  EXPECT_EQ(*state_->pending_count(), 2U);
  EXPECT_EQ(*state_->push_cursor(), 77U);
  // Order continues after a reopen.
  ASSERT_OK(state_->enqueue(event(4)));
  EXPECT_EQ(ids_of(*state_->next_batch(10)), (std::vector<std::string>{event_id(1), event_id(3), event_id(4)}));
}

TEST_P(AgentStateConformance, PushCursor) {
  ASSERT_OK(state_->set_push_cursor(42));
  EXPECT_EQ(*state_->push_cursor(), 42U);
  const auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  ASSERT_OK(state_->set_push_cursor(max));
  EXPECT_EQ(*state_->push_cursor(), max);
  expect_code(state_->set_push_cursor(max + 1), ErrorCode::kInvalidArgument, "beyond int64");
  EXPECT_EQ(*state_->push_cursor(), max);
  ASSERT_OK(state_->set_push_cursor(0));
  EXPECT_EQ(*state_->push_cursor(), 0U);
}

CodeUse code_use(std::string kind, std::uint32_t ref, std::uint32_t generation, const std::string& grant_id) {
  return CodeUse{std::move(kind), ref, generation, 1000, "alice", grant_id, at(1'800'000'000)};
}

TEST_P(AgentStateConformance, CodeChallengesAreKeptPerUserUntilTheyExpire) {
  const CodeChallengeRecord a{11, 1000, at(100), at(200)};
  ASSERT_OK(state_->add_code_challenge(a, at(100)));
  EXPECT_EQ(*state_->code_challenge(11), a);
  EXPECT_EQ(*state_->code_challenge(12), std::nullopt);
  expect_code(state_->add_code_challenge(CodeChallengeRecord{11, 1001, at(101), at(201)}, at(101)),
              ErrorCode::kConflict, "a nonce in use");
  // Past kMaxChallengesPerUid, the oldest of that user go; others stay.
  ASSERT_OK(state_->add_code_challenge(CodeChallengeRecord{500, 1001, at(100), at(10'000)}, at(100)));
  for (std::uint32_t n = 0; n < kMaxChallengesPerUid; ++n) {
    ASSERT_OK(state_->add_code_challenge(CodeChallengeRecord{20 + n, 1000, at(110 + n), at(10'000)}, at(110 + n)));
  }
  EXPECT_EQ(*state_->code_challenge(11), std::nullopt) << "the oldest of uid 1000";
  EXPECT_TRUE(state_->code_challenge(20)->has_value());
  EXPECT_TRUE(state_->code_challenge(500)->has_value());
  // Expired ones are dropped when the next is added.
  ASSERT_OK(state_->add_code_challenge(CodeChallengeRecord{600, 1002, at(10'000), at(10'500)}, at(10'000)));
  EXPECT_EQ(*state_->code_challenge(500), std::nullopt);
  reopen();
  EXPECT_TRUE(state_->code_challenge(600)->has_value());
  expect_code(state_->add_code_challenge(CodeChallengeRecord{1U << 30, 1000, at(1), at(2)}, at(1)),
              ErrorCode::kInvalidArgument, "a 31-bit nonce");
  expect_code(state_->add_code_challenge(CodeChallengeRecord{5, 1000, at(2), at(2)}, at(1)),
              ErrorCode::kInvalidArgument, "no lifetime");
}

TEST_P(AgentStateConformance, ACodeIsRedeemedOnceWithItsGrantAndEvent) {
  ASSERT_OK(state_->add_code_challenge(CodeChallengeRecord{77, 1000, at(100), at(5000)}, at(100)));
  ASSERT_OK(state_->record_code_failure(1000, CodeAttempts{2, at(150)}, event(1)));
  EXPECT_EQ(*state_->code_attempts(1000), (CodeAttempts{2, at(150)}));
  EXPECT_EQ(*state_->code_attempts(1001), CodeAttempts{});

  const Grant g = session_grant("code-response-0000004d-g1", 1000, 200, 3800);
  ASSERT_OK(state_->redeem_code(code_use("response", 77, 1, g.id), g, event(2)));
  EXPECT_TRUE(*state_->code_used("response", 77, 1));
  EXPECT_FALSE(*state_->code_used("response", 77, 2)) << "another key generation";
  EXPECT_FALSE(*state_->code_used("preissued", 77, 1));
  EXPECT_EQ(*state_->grant(g.id), g);
  EXPECT_EQ(*state_->code_challenge(77), std::nullopt) << "the challenge is spent";
  EXPECT_EQ(*state_->code_attempts(1000), CodeAttempts{}) << "a good code clears the count";
  EXPECT_EQ(ids_of(*state_->next_batch(10)), (std::vector<std::string>{event_id(1), event_id(2)}));

  // Again, under any grant id: refused, and nothing is written.
  const Grant again = session_grant("code-response-0000004d-g1-again", 1000, 300, 3900);
  expect_code(state_->redeem_code(code_use("response", 77, 1, again.id), again, event(3)), ErrorCode::kConflict,
              "a second use");
  EXPECT_EQ(*state_->grant(again.id), std::nullopt);
  EXPECT_EQ(*state_->pending_count(), 2U);
  // The nonce of a used response is never drawn again.
  expect_code(state_->add_code_challenge(CodeChallengeRecord{77, 1000, at(400), at(900)}, at(400)),
              ErrorCode::kConflict, "a used nonce");
  reopen();
  EXPECT_TRUE(*state_->code_used("response", 77, 1));
  expect_code(state_->redeem_code(code_use("response", 77, 1, again.id), again, event(3)), ErrorCode::kConflict,
              "a second use after a reopen");

  const Grant pre = session_grant("code-preissued-0000beef-g1", 1000, 300, 3900);
  ASSERT_OK(state_->redeem_code(code_use("preissued", 0xBEEF, 1, pre.id), pre, event(4)));
  expect_code(state_->redeem_code(code_use("other", 1, 1, "g-x"), session_grant("g-x", 1000, 1, 2), event(5)),
              ErrorCode::kInvalidArgument, "an unknown kind");
  expect_code(state_->redeem_code(code_use("preissued", 2, 0, "g-y"), session_grant("g-y", 1000, 1, 2), event(5)),
              ErrorCode::kInvalidArgument, "generation 0");
  EXPECT_EQ(*state_->pending_count(), 3U);
}

TEST(NewEventId, Is128RandomBitsInHex) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto id = new_event_id();
    ASSERT_TRUE(id.ok()) << id.error().message;
    EXPECT_TRUE(validate_event_id(*id).ok()) << *id;
    seen.insert(*id);
  }
  EXPECT_EQ(seen.size(), 100U);
}

}  // namespace
}  // namespace hoist::agent::testing
