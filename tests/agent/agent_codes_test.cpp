// Offline admin codes on the agent, over the in-memory state and a fake
// hoistd that is never reached for a code: challenges, responses and
// pre-issued codes; single use; wrong host, user, duration and scope; expiry;
// the back-off across a restart; the grant and the event a code leaves; key
// rotation.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "agent/agent.h"
#include "agent/state/fake_agent_state.h"
#include "core/admin_code.h"
#include "fake_server.h"
#include "ipc/messages.h"
#include "platform/executable.h"
#include "platform/system_time_zones.h"

namespace hoist::agent {
namespace {

namespace json = boost::json;

constexpr std::uint32_t kAlice = 1000;
constexpr std::uint32_t kBob = 1001;
const std::string kEndpoint = "ep-codes-test-1";

std::vector<std::uint8_t> master() {
  return std::vector<std::uint8_t>(32, 0x42);
}

codes::HostKey key_for(const std::string& endpoint, std::uint32_t generation) {
  auto key = codes::derive_host_key(master(), endpoint, generation);
  EXPECT_TRUE(key.ok());
  return *key;
}

class CodesTest : public ::testing::Test {
 protected:
  CodesTest() { start_agent(); }

  void start_agent() {
    agent_ = std::make_unique<Agent>(AgentDeps{*state_,
                                               server_,
                                               zones_,
                                               inspector_,
                                               [this] { return now_; },
                                               [](std::uint32_t uid) -> Result<Account> {
                                                 if (uid == kAlice) return Account{"alice", kAlice, kAlice, {"alice"}};
                                                 if (uid == kBob) return Account{"bob", kBob, kBob, {"bob"}};
                                                 return not_found("no such user");
                                               },
                                               "laptop-7",
                                               {},
                                               nullptr});
  }
  // As after a restart of the agent: the same stored state, a new process.
  void restart() {
    state_ = state_->reopen();
    start_agent();
  }

  // Enrolled, without an admin-code key (hoistd had none).
  static Identity keyless() {
    Identity id;
    id.server_url = "https://hoistd.test";
    id.ca_pin_sha256 = std::string(64, 'a');
    id.endpoint_id = kEndpoint;
    id.credential = "hoist_agent_x";
    id.hostname = "laptop-7";
    return id;
  }
  void enrol(std::uint32_t generation = 1) {
    Identity id = keyless();
    const auto key = key_for(kEndpoint, generation);
    id.codes_key.assign(key.begin(), key.end());
    id.codes_key_generation = generation;
    ASSERT_TRUE(state_->set_identity(id).ok());
  }

  Result<ipc::ChallengeMessage> challenge(std::uint32_t uid = kAlice) {
    auto reply = agent_
                     ->handle(Caller{uid, 0, false},
                              ipc::to_fields(ipc::CodeChallengeMessage{uid == kAlice ? "alice" : "bob", uid}), -1)
                     .reply;
    if (auto e = ipc::error_from(reply)) return Error{e->code, e->message};
    return ipc::challenge_from(reply);
  }
  Result<ipc::CodeGrantMessage> redeem(const std::string& challenge, const std::string& code,
                                       const std::string& command = "", std::uint32_t uid = kAlice) {
    ipc::CodeRedeemMessage m{uid == kAlice ? "alice" : "bob", uid, "/dev/pts/3", challenge, code, command};
    auto reply = agent_->handle(Caller{uid, 0, false}, ipc::to_fields(m), -1).reply;
    if (auto e = ipc::error_from(reply)) return Error{e->code, e->message};
    return ipc::code_grant_from(reply);
  }
  // The help desk's answer to `text`.
  static std::string respond(const std::string& text, const codes::CodeTerms& terms,
                             const std::string& endpoint = kEndpoint, std::uint32_t generation = 1) {
    auto c = codes::parse_challenge(text);
    EXPECT_TRUE(c.ok());
    auto r = codes::compute_response(key_for(endpoint, generation), *c, terms);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return *r;
  }
  std::vector<OutboxEvent> events(std::string_view kind) {
    std::vector<OutboxEvent> out;
    auto batch = state_->next_batch(1000);
    EXPECT_TRUE(batch.ok());
    for (const auto& e : *batch) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }

  TimePoint now_{Seconds{1'800'000'000}};
  platform::SystemTimeZones zones_;
  platform::ExecutableInspector inspector_{nullptr, nullptr};
  std::unique_ptr<FakeAgentState> state_ = std::make_unique<FakeAgentState>();
  FakeServer server_;
  std::unique_ptr<Agent> agent_;
};

const codes::CodeTerms kAliceHour{"alice", Seconds{3600}, ""};

TEST_F(CodesTest, WithoutAKeyThereIsNoChallenge) {
  auto c = challenge();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("not enrolled"), std::string::npos) << c.error().message;
  ASSERT_TRUE(state_->set_identity(keyless()).ok());
  c = challenge();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(c.error().message.find("no admin-code key"), std::string::npos) << c.error().message;
}

TEST_F(CodesTest, AResponseStartsARecordedSessionOnce) {
  enrol();
  auto c = challenge();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->host, "laptop-7");
  EXPECT_EQ(c->endpoint_id, kEndpoint);
  EXPECT_EQ(c->challenge.size(), 9U) << "XXXX-XXXX";
  auto parsed = codes::parse_challenge(c->challenge);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->host_tag, codes::host_tag(kEndpoint));

  const std::string response = respond(c->challenge, kAliceHour);
  auto granted = redeem(c->challenge, response);
  ASSERT_TRUE(granted.ok()) << granted.error().message;
  EXPECT_TRUE(granted->session);
  EXPECT_EQ(granted->time_left_s, 3600U);

  auto g = state_->grant(granted->grant_id);
  ASSERT_TRUE(g.ok() && g->has_value());
  EXPECT_EQ((*g)->kind, GrantKind::kSession);
  EXPECT_EQ((*g)->origin, GrantOrigin::kOfflineCode);
  EXPECT_TRUE((*g)->record_processes);
  EXPECT_EQ((*g)->uid, kAlice);
  EXPECT_EQ((*g)->deadline, now_ + Seconds{3600});

  auto used = events("code.used");
  ASSERT_EQ(used.size(), 1U);
  const auto details = json::parse(used[0].payload).as_object();
  EXPECT_EQ(details.at("code_kind").as_string(), "response");
  EXPECT_EQ(details.at("ref").to_number<std::uint32_t>(), parsed->nonce);
  EXPECT_EQ(details.at("generation").to_number<int>(), 1);
  EXPECT_EQ(details.at("user").as_string(), "alice");
  EXPECT_EQ(details.at("duration_s").to_number<int>(), 3600);
  EXPECT_EQ(details.at("command").as_string(), "");
  EXPECT_EQ(details.at("grant_id").as_string(), granted->grant_id);
  EXPECT_TRUE(details.contains("used_at"));

  // Replayed, even after a restart: refused, and nothing more is granted.
  auto again = redeem(c->challenge, response);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kPermissionDenied);
  restart();
  again = redeem(c->challenge, response);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(events("code.used").size(), 1U);
  auto grants = state_->grants();
  ASSERT_TRUE(grants.ok());
  EXPECT_EQ(grants->size(), 1U);
}

TEST_F(CodesTest, WrongHostUserDurationOrScopeDoNotFit) {
  enrol();
  auto c = challenge();
  ASSERT_TRUE(c.ok()) << c.error().message;
  // Another computer's key (the same challenge read to the wrong host).
  auto r = redeem(c->challenge, respond(c->challenge, kAliceHour, "ep-other-host"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(codes::does_not_fit(r.error())) << r.error().message;
  // Issued for bob, entered by alice.
  r = redeem(c->challenge, respond(c->challenge, codes::CodeTerms{"bob", Seconds{3600}, ""}));
  EXPECT_FALSE(r.ok());
  // A changed duration character: the duration is under the MAC.
  std::string tampered = respond(c->challenge, kAliceHour);
  tampered[0] = tampered[0] == '7' ? '8' : '7';
  r = redeem(c->challenge, tampered);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(*state_->code_attempts(kAlice), (CodeAttempts{3, now_}));
  now_ += Seconds{60};
  // A code for one command is no session, and fits no other command.
  const codes::CodeTerms apt{"alice", Seconds{1800}, "/usr/bin/apt-get"};
  r = redeem(c->challenge, respond(c->challenge, apt));
  EXPECT_FALSE(r.ok()) << "a command code entered as a session";
  now_ += Seconds{60};
  r = redeem(c->challenge, respond(c->challenge, apt), "/usr/bin/dpkg");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(events("code.used").empty());
  EXPECT_EQ(events("code.refused").size(), 5U);
  now_ += Seconds{60};
  // The right one, for the right command, still works: the challenge was not spent.
  auto ok = redeem(c->challenge, respond(c->challenge, apt), "/usr/bin/apt-get");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_FALSE(ok->session);
  EXPECT_EQ(ok->command, "/usr/bin/apt-get");
  EXPECT_EQ(*state_->code_attempts(kAlice), CodeAttempts{}) << "a good code clears the count";
}

TEST_F(CodesTest, ChallengesBelongToTheirUserAndExpire) {
  enrol();
  auto c = challenge(kBob);
  ASSERT_TRUE(c.ok());
  auto r = redeem(c->challenge, respond(c->challenge, kAliceHour));
  ASSERT_FALSE(r.ok()) << "bob's challenge answered for alice";
  EXPECT_NE(r.error().message.find("not one this computer gave you"), std::string::npos) << r.error().message;

  c = challenge();
  ASSERT_TRUE(c.ok());
  now_ += codes::kChallengeLifetime;
  r = redeem(c->challenge, respond(c->challenge, kAliceHour));
  ASSERT_FALSE(r.ok()) << "an expired challenge";
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);

  // A challenge this agent never showed (a made-up nonce).
  auto made_up = codes::format_challenge(codes::Challenge{codes::host_tag(kEndpoint), 12345});
  r = redeem(made_up, respond(made_up, kAliceHour));
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(events("code.used").empty());
}

TEST_F(CodesTest, PreIssuedCodesWorkOnceWithinTheirDays) {
  enrol();
  const auto today = static_cast<std::uint32_t>(now_.time_since_epoch().count() / 86400);
  const codes::PreIssued p{0xBEEF, today - 1, 2};
  auto code = codes::issue_preissued(key_for(kEndpoint, 1), p, codes::CodeTerms{"alice", Seconds{7200}, ""});
  ASSERT_TRUE(code.ok());
  auto r = redeem("", *code, "", kBob);
  ASSERT_FALSE(r.ok()) << "alice's code, for bob";
  auto ok = redeem("", *code);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_TRUE(ok->session);
  EXPECT_EQ(ok->time_left_s, 7200U);
  auto used = events("code.used");
  ASSERT_EQ(used.size(), 1U);
  EXPECT_EQ(json::parse(used[0].payload).at("ref").to_number<std::uint32_t>(), 0xBEEFU);
  EXPECT_FALSE(redeem("", *code).ok()) << "single use";

  // Past its days: refused, naming the window, and not counted as a guess.
  const codes::PreIssued old{0xCAFE, today - 3, 2};
  auto stale = codes::issue_preissued(key_for(kEndpoint, 1), old, codes::CodeTerms{"alice", Seconds{7200}, ""});
  ASSERT_TRUE(stale.ok());
  auto before = *state_->code_attempts(kAlice);
  r = redeem("", *stale);
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(codes::does_not_fit(r.error())) << r.error().message;
  EXPECT_EQ(*state_->code_attempts(kAlice), before);
}

TEST_F(CodesTest, WrongCodesBackOffAcrossARestart) {
  enrol();
  auto c = challenge();
  ASSERT_TRUE(c.ok());
  const std::string wrong = "0000-0000-0000";
  for (int i = 0; i < 3; ++i) {
    auto r = redeem(c->challenge, wrong);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied) << "try " << i << ": " << r.error().message;
  }
  // The fourth try waits 2 s after the third wrong one, even with the
  // right code, and even after a restart.
  const std::string right = respond(c->challenge, kAliceHour);
  restart();
  auto r = redeem(c->challenge, right);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kRateLimited) << r.error().message;
  now_ += Seconds{2};
  r = redeem(c->challenge, wrong);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  now_ += Seconds{3};
  r = redeem(c->challenge, right);
  EXPECT_EQ(r.error().code, ErrorCode::kRateLimited) << "the fifth waits 4 s";
  // Another user is not held up by alice's guesses.
  auto bobs = challenge(kBob);
  ASSERT_TRUE(bobs.ok());
  auto b = redeem(bobs->challenge, respond(bobs->challenge, codes::CodeTerms{"bob", Seconds{600}, ""}), "", kBob);
  EXPECT_TRUE(b.ok()) << b.error().message;
  now_ += Seconds{1};
  r = redeem(c->challenge, right);
  EXPECT_TRUE(r.ok()) << r.error().message;

  // The back-off grows to one try a minute and stays there.
  EXPECT_EQ(codes::code_backoff(0), Seconds{0});
  EXPECT_EQ(codes::code_backoff(2), Seconds{0});
  EXPECT_EQ(codes::code_backoff(3), Seconds{2});
  EXPECT_EQ(codes::code_backoff(4), Seconds{4});
  EXPECT_EQ(codes::code_backoff(7), Seconds{32});
  EXPECT_EQ(codes::code_backoff(8), Seconds{60});
  EXPECT_EQ(codes::code_backoff(1'000'000), Seconds{60});
}

TEST_F(CodesTest, TypingSlipsAreNotCountedAsGuesses) {
  enrol();
  auto c = challenge();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(redeem(c->challenge, "ABC").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(redeem(c->challenge, "ABCD-EFGH-JKU!").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(redeem(c->challenge, c->challenge).error().code, ErrorCode::kInvalidArgument) << "the challenge itself";
  EXPECT_EQ(state_->code_attempts(kAlice)->failures, 0U);
  // Someone else's uid in the message: refused before anything is read.
  ipc::CodeRedeemMessage m{"bob", kBob, "", c->challenge, "0000-0000-0000", ""};
  auto reply = agent_->handle(Caller{kAlice, 0, false}, ipc::to_fields(m), -1).reply;
  EXPECT_EQ(ipc::error_from(reply)->code, ErrorCode::kPermissionDenied);
}

TEST_F(CodesTest, ARotatedKeyVoidsCodesForTheOldOne) {
  enrol(1);
  auto c = challenge();
  ASSERT_TRUE(c.ok());
  const std::string old_response = respond(c->challenge, kAliceHour, kEndpoint, 1);
  const auto rotated = key_for(kEndpoint, 2);
  server_.codes_key_answer = CodesKey{2, std::vector<std::uint8_t>(rotated.begin(), rotated.end())};
  ASSERT_TRUE(agent_->apply_push(PushPage{{PushMessage{1, "codes_key", R"({"generation":2})"}}, 1}).ok());
  auto id = state_->identity();
  ASSERT_TRUE(id.ok() && id->has_value());
  EXPECT_EQ((*id)->codes_key_generation, 2U);
  EXPECT_FALSE(redeem(c->challenge, old_response).ok());
  auto ok = redeem(c->challenge, respond(c->challenge, kAliceHour, kEndpoint, 2));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(events("codes_key.installed").size(), 1U);
  // hoistd unreachable: the key in hand stays.
  server_.codes_key_answer.reset();
  EXPECT_FALSE(agent_->sync_codes_key().ok());
  EXPECT_EQ((*state_->identity())->codes_key_generation, 2U);
}

}  // namespace
}  // namespace hoist::agent
