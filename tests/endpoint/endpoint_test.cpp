// The endpoint library (src/endpoint): the terminal's questions and
// words, the agent connection's deadlines, the typed client's four kinds of
// reply, and the approval wait, against a scripted fake agent.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <thread>

#include "endpoint/agent_client.h"
#include "endpoint/agent_connection.h"
#include "endpoint/approval.h"
#include "endpoint/terminal.h"
#include "plugin/fake_agent.h"

namespace hoist::endpoint {
namespace {

using plugin::testing::Answer;
using plugin::testing::FakeAgent;
using plugin::testing::Received;

class ScriptedConversation final : public Conversation {
 public:
  void info(std::string_view text) override { out += std::string(text) + "\n"; }
  void error(std::string_view text) override { out += std::string(text) + "\n"; }
  void status_line(std::string_view text) override { out += "\r" + std::string(text); }
  std::optional<std::string> prompt(std::string_view question, bool /*echo*/) override {
    prompts.emplace_back(question);
    if (answers.empty()) return std::nullopt;
    auto a = answers.front();
    answers.pop_front();
    return a;
  }
  std::deque<std::optional<std::string>> answers;
  std::vector<std::string> prompts;
  std::string out;
};

TEST(Duration, ParsesTheUsualForms) {
  for (auto [text, seconds] : std::vector<std::pair<std::string, std::uint64_t>>{{"30m", 1800},
                                                                                 {"1h", 3600},
                                                                                 {"90s", 90},
                                                                                 {"1h30m", 5400},
                                                                                 {"2d", 172800},
                                                                                 {"45", 2700},
                                                                                 {" 10m ", 600},
                                                                                 {"1d2h3m4s", 93784}}) {
    auto d = parse_duration(text);
    ASSERT_TRUE(d.ok()) << text << ": " << d.error().message;
    EXPECT_EQ(*d, seconds) << text;
  }
  for (const std::string bad :
       {"", "m", "1x", "1h30", "30m1h", "1m1m", "-5m", "0", "0s", "1.5h", "1 h", "99999999999d", "367d", "h1"}) {
    EXPECT_FALSE(parse_duration(bad).ok()) << bad;
  }
}

TEST(Duration, FormatsForPeople) {
  EXPECT_EQ(format_duration(5400), "1h30m");
  EXPECT_EQ(format_duration(90), "1m30s");
  EXPECT_EQ(format_duration(3600), "1h");
  EXPECT_EQ(format_countdown(107), "1:47");
  EXPECT_EQ(format_countdown(3725), "1:02:05");
  EXPECT_EQ(format_countdown(0), "0:00");
  EXPECT_EQ(shortened_text(3600, 3590), "");  // the wait took some of it
  EXPECT_EQ(shortened_text(3600, 0), "");     // not known
  EXPECT_EQ(shortened_text(3600, 1799), "The grant is shorter than you asked for: 30m, not 1h.");
  EXPECT_EQ(shortened_text(7200, 45), "The grant is shorter than you asked for: 45s, not 2h.");
  EXPECT_EQ(countdown_line("req-0123abcd", 107), "Waiting for approval 1:47 (req-0123abcd) \u2014 Ctrl-C to cancel ");
  EXPECT_EQ(countdown_line("req-\x1b[2J", 1), "Waiting for approval 0:01 (req-\\x1b[2J) \u2014 Ctrl-C to cancel ");
}

TEST(Terminal, ForeignTextCannotDriveTheTerminal) {
  EXPECT_EQ(safe_for_terminal("ok\n\tline"), "ok\n\tline");
  EXPECT_EQ(safe_for_terminal("\x1b]0;pwned\x07\r\x7f"), "\\x1b]0;pwned\\x07\\x0d\\x7f");
  EXPECT_EQ(safe_for_terminal("ls \xe2\x80\xae"
                              "txt"),
            "ls \\u{202E}txt");
  EXPECT_EQ(safe_for_terminal("caf\xc3\xa9 \u2014"), "caf\xc3\xa9 \u2014");
}

TEST(Terminal, JustificationIsRequired) {
  ScriptedConversation conv;
  conv.answers = {"", "  ", std::string(ipc::kMaxTextBytes + 1, 'x'), "ticket 7"};
  auto why = ask_justification(conv, 4);
  ASSERT_TRUE(why.ok());
  EXPECT_EQ(*why, "ticket 7");
  ScriptedConversation quiet;
  quiet.answers = {"", "", ""};
  EXPECT_EQ(ask_justification(quiet).error().code, ErrorCode::kPermissionDenied);
  ScriptedConversation eof;
  EXPECT_EQ(ask_justification(eof).error().code, ErrorCode::kConflict);
}

TEST(Terminal, DurationDefaultCapAndRetry) {
  ScriptedConversation conv;
  conv.answers = {""};
  EXPECT_EQ(*ask_duration(conv, 900, 3600), 900u);
  EXPECT_EQ(conv.prompts.front(), "For how long? [15m, at most 1h] ");
  ScriptedConversation capped;
  capped.answers = {"2h", "x", "1h"};
  EXPECT_EQ(*ask_duration(capped, 900, 3600), 3600u);
  EXPECT_NE(capped.out.find("at most 1h"), std::string::npos);
  ScriptedConversation none;
  none.answers = {""};
  EXPECT_EQ(*ask_duration(none, 0, 0), 3600u);
  ScriptedConversation small;
  small.answers = {""};
  EXPECT_EQ(*ask_duration(small, 0, 600), 600u);
}

TEST(AgentConnection, TurnsHaveDeadlinesAndRefuseMalformedReplies) {
  char tmpl[] = "/tmp/hoist-ac-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string socket = std::string(tmpl) + "/agent.sock";
  EXPECT_EQ(AgentConnection::connect(socket).error().code, ErrorCode::kUnavailable);  // nobody listens

  plugin::testing::FakeAgent agent(socket);
  ASSERT_TRUE(agent.listening());
  const ipc::Fields pong = ipc::to_fields(ipc::ErrorMessage{ErrorCode::kNotFound, "pong"});
  agent.script({[&](const plugin::testing::Received&) { return plugin::testing::Answer::of(pong); },
                [&](const plugin::testing::Received&) {
                  std::this_thread::sleep_for(std::chrono::milliseconds(600));
                  return plugin::testing::Answer::of(pong);
                },
                [&](const plugin::testing::Received&) {
                  return plugin::testing::Answer::bytes(*ipc::encode_frame(pong) + "x");
                }});
  agent.start();
  const AgentTimeouts quick{500, 200};
  const ipc::Fields ping = ipc::to_fields(ipc::CancelMessage{"r"});

  auto client = AgentConnection::connect(socket, quick);
  ASSERT_TRUE(client.ok()) << client.error().message;
  const platform::UniqueFd exe(::open("/usr/bin/true", O_RDONLY | O_CLOEXEC));
  auto reply = client->call(ping, exe.get());
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(*reply, pong);

  const auto started = std::chrono::steady_clock::now();
  auto late = client->call(ping);  // the agent answers after 600 ms; the deadline is 200 ms
  EXPECT_EQ(late.error().code, ErrorCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(550));
  EXPECT_FALSE(client->connected());  // out of step: dropped

  auto again = AgentConnection::connect(socket, quick);
  ASSERT_TRUE(again.ok());
  auto trailing = again->call(ping);  // a frame and a stray byte
  EXPECT_FALSE(trailing.ok());

  agent.stop();
  auto got = agent.received();
  ASSERT_GE(got.size(), 1u);
  EXPECT_TRUE(got[0].had_fd);
  std::filesystem::remove_all(tmpl);
}

// A socket path in a fresh directory, removed at the end.
class AgentDir {
 public:
  AgentDir() {
    char tmpl[] = "/tmp/hoist-ep-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) dir_ = tmpl;
  }
  ~AgentDir() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  AgentDir(const AgentDir&) = delete;
  AgentDir& operator=(const AgentDir&) = delete;
  [[nodiscard]] std::string socket() const { return dir_ + "/agent.sock"; }

 private:
  std::string dir_;
};

ipc::RequestStateMessage state_of(std::string id, RequestState s) {
  ipc::RequestStateMessage m;
  m.request_id = std::move(id);
  m.state = s;
  return m;
}

TEST(AgentClient, TellsAnswersRefusalsGarbleAndSilenceApart) {
  AgentDir dir;
  FakeAgent agent(dir.socket());
  ASSERT_TRUE(agent.listening());
  ipc::DecisionMessage allow;
  allow.action = Action::kAllow;
  agent.script({[&](const Received&) { return Answer::of(ipc::to_fields(allow)); },
                [&](const Received&) {
                  return Answer::of(ipc::to_fields(ipc::ErrorMessage{ErrorCode::kUnavailable, "hoistd is away"}));
                },
                // The wrong type for a check: never taken for a decision.
                [&](const Received&) { return Answer::of(ipc::to_fields(state_of("r1", RequestState::kApproved))); },
                [&](const Received&) { return Answer::bytes("garbage"); }});
  agent.start();
  auto client = AgentClient::connect(dir.socket(), AgentTimeouts{500, 300});
  ASSERT_TRUE(client.ok()) << client.error().message;
  ipc::CommandContext context;
  context.user = "alice";
  context.command = "/usr/bin/true";
  context.argv = {"/usr/bin/true"};

  auto answered = client->check(context, -1);
  ASSERT_TRUE(answered);
  EXPECT_EQ(answered->action, Action::kAllow);

  auto refused = client->check(context, -1);
  EXPECT_FALSE(refused);
  EXPECT_TRUE(refused.refused());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);  // the agent's category, as it sent it
  EXPECT_EQ(refused.error().message, "hoistd is away");

  auto wrong = client->check(context, -1);
  EXPECT_TRUE(wrong.garbled());
  EXPECT_FALSE(wrong.refused());
  EXPECT_EQ(wrong.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(wrong.error().message.find("malformed decision"), std::string::npos) << wrong.error().message;

  auto garbage = client->check(context, -1);
  EXPECT_TRUE(garbage.lost());
  EXPECT_EQ(garbage.error().code, ErrorCode::kUnavailable);
  agent.stop();
  EXPECT_EQ(agent.types(), (std::vector<std::string>{"check", "check", "check", "check"}));
}

TEST(ApprovalWait, ApprovedAfterPendingTurnsAndTheCountdownIsCleared) {
  AgentDir dir;
  FakeAgent agent(dir.socket());
  ASSERT_TRUE(agent.listening());
  agent.script({[&](const Received&) { return Answer::of(ipc::to_fields(state_of("r1", RequestState::kPending))); },
                [&](const Received&) {
                  auto s = state_of("r1", RequestState::kApproved);
                  s.reviewer = "tech";
                  return Answer::of(ipc::to_fields(s));
                }});
  agent.start();
  auto client = AgentClient::connect(dir.socket());
  ASSERT_TRUE(client.ok());
  ScriptedConversation conv;
  const InterruptGuard guard({SIGINT});
  auto waited = wait_for_decision(*client, state_of("r1", RequestState::kPending), 30, conv, guard);
  EXPECT_EQ(waited.end, WaitResult::End::kApproved);
  EXPECT_EQ(waited.state.reviewer, "tech");
  EXPECT_NE(conv.out.find("Waiting for approval 0:30 (r1)"), std::string::npos) << conv.out;
  EXPECT_TRUE(conv.out.ends_with("\r")) << "the countdown line is cleared";
  agent.stop();
  EXPECT_EQ(agent.types(), (std::vector<std::string>{"wait", "wait"}));
}

// One wait against an agent that answers `steps`.
WaitResult wait_against(std::vector<plugin::testing::Step> steps, const std::string& id, std::uint64_t wait_s,
                        std::vector<std::string>* types = nullptr) {
  AgentDir dir;
  FakeAgent agent(dir.socket());
  EXPECT_TRUE(agent.listening());
  agent.script(std::move(steps));
  agent.start();
  auto client = AgentClient::connect(dir.socket());
  EXPECT_TRUE(client.ok());
  if (!client) return {};
  ScriptedConversation conv;
  const InterruptGuard guard({SIGINT});
  auto waited = wait_for_decision(*client, state_of(id, RequestState::kPending), wait_s, conv, guard);
  agent.stop();
  if (types != nullptr) *types = agent.types();
  return waited;
}

TEST(ApprovalWait, DeniedTimedOutLostAndInterruptedEndTheWait) {
  auto denied = wait_against(
      {[](const Received&) { return Answer::of(ipc::to_fields(state_of("r1", RequestState::kDenied))); }}, "r1", 30);
  EXPECT_EQ(denied.end, WaitResult::End::kClosed);
  EXPECT_EQ(denied.state.state, RequestState::kDenied);

  const auto started = std::chrono::steady_clock::now();
  auto pending = [](const Received&) { return Answer::of(ipc::to_fields(state_of("r2", RequestState::kPending))); };
  std::vector<std::string> turns;
  auto late = wait_against({pending, pending, pending, pending}, "r2", 2, &turns);
  EXPECT_EQ(late.end, WaitResult::End::kTimedOut);
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1900));
  EXPECT_LE(turns.size(), 3u) << "one turn a second, however fast the agent answers";

  auto lost = wait_against({[](const Received&) { return Answer::hang_up(); }}, "r3", 30);
  EXPECT_EQ(lost.end, WaitResult::End::kLost);
  EXPECT_TRUE(lost.no_reply);

  auto refused = wait_against({[](const Received&) {
                                return Answer::of(ipc::to_fields(ipc::ErrorMessage{ErrorCode::kNotFound, "gone"}));
                              }},
                              "r5", 30);
  EXPECT_EQ(refused.end, WaitResult::End::kLost);
  EXPECT_FALSE(refused.no_reply);
  EXPECT_EQ(refused.error.message, "gone");

  struct sigaction before {};
  ::sigaction(SIGINT, nullptr, &before);
  auto stopped = wait_against({[](const Received&) {
                                ::kill(::getpid(), SIGINT);  // Ctrl-C while the agent holds the turn
                                std::this_thread::sleep_for(std::chrono::milliseconds(300));
                                return Answer::of(ipc::to_fields(state_of("r4", RequestState::kPending)));
                              }},
                              "r4", 30);
  EXPECT_EQ(stopped.end, WaitResult::End::kInterrupted);
  struct sigaction after {};
  ::sigaction(SIGINT, nullptr, &after);
  EXPECT_EQ(after.sa_handler, before.sa_handler) << "the guard puts the old handler back";
}

TEST(ApprovalWait, CancelGoesOnAFreshConnection) {
  AgentDir dir;
  EXPECT_FALSE(cancel_request(dir.socket(), "r1").ok());  // nobody listens
  FakeAgent agent(dir.socket());
  ASSERT_TRUE(agent.listening());
  agent.script({[&](const Received&) { return Answer::of(ipc::to_fields(state_of("r1", RequestState::kCancelled))); },
                [&](const Received&) {
                  return Answer::of(ipc::to_fields(ipc::ErrorMessage{ErrorCode::kNotFound, "no such request"}));
                }});
  agent.start();
  EXPECT_TRUE(cancel_request(dir.socket(), "r1").ok());
  auto refused = cancel_request(dir.socket(), "r9");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "no such request");
  agent.stop();
  EXPECT_EQ(agent.types(), (std::vector<std::string>{"cancel", "cancel"}));
}

}  // namespace
}  // namespace hoist::endpoint
