// The plugin runtime's pieces on their own: durations and the terminal
// flow over a scripted Conversation, the break-glass file format, and the
// timestamp records.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>

#include "fake_agent.h"
#include "plugin/agent_client.h"
#include "plugin/break_glass.h"
#include "plugin/terminal.h"
#include "plugin/timestamp.h"

namespace hoist::plugin {
namespace {

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
  EXPECT_EQ(countdown_line(107), "Waiting for approval 1:47 \u2014 Ctrl-C to cancel ");
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

TEST(BreakGlass, FileFormatIsStrict) {
  auto ok = parse_break_glass("# admins\n\nwheel\nops-team\nsvc$\nwheel\n");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(*ok, (std::vector<std::string>{"wheel", "ops-team", "svc$"}));
  for (const std::string& bad :
       std::vector<std::string>{"wheel ops\n", " wheel\n", "group = \"wheel\"\n", "-x\n", "wheel\r\n", "a$b\n",
                                std::string(33, 'g') + "\n", "ok\n  # indented comment\n"}) {
    EXPECT_FALSE(parse_break_glass(bad).ok()) << bad;
  }
  EXPECT_TRUE(parse_break_glass("")->empty());
}

TEST(BreakGlass, UntrustedFilesAreIgnored) {
  char tmpl[] = "/tmp/hoist-bg-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::ofstream(dir + "/bg") << "wheel\n";
  ::chmod((dir + "/bg").c_str(), 0644);
  // /tmp is writable by everyone: the directory chain is not trusted.
  EXPECT_FALSE(read_break_glass_file(dir + "/bg").ok());
  EXPECT_FALSE(read_break_glass_file(dir + "/missing").ok());
  EXPECT_FALSE(read_break_glass_file("").ok());
  std::filesystem::remove_all(dir);
}

TEST(Timestamp, RecordsAreFreshThenForgotten) {
  if (::geteuid() != 0) GTEST_SKIP() << "timestamp records need a root-owned directory";
  char tmpl[] = "/tmp/hoist-ts-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = std::string(tmpl) + "/ts";
  const TimestampStore store(dir);
  TimestampKey key{1000, 34816, ::getsid(0), 12345};
  EXPECT_FALSE(store.fresh(key));
  ASSERT_TRUE(store.update(key).ok());
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(store.fresh(key));
  TimestampKey other_tty = key;
  other_tty.tty_device = 34817;
  EXPECT_FALSE(store.fresh(other_tty));
  TimestampKey restarted = key;
  restarted.start_time = 12346;
  EXPECT_FALSE(store.fresh(restarted));
  TimestampKey bob = key;
  bob.uid = 1001;
  ASSERT_TRUE(store.update(bob).ok());
  ASSERT_TRUE(store.remove_all(1000).ok());
  EXPECT_FALSE(store.fresh(key));
  EXPECT_TRUE(store.fresh(bob));
  // A record from the future (clock games) is stale.
  std::ofstream(dir + "/" + key.file_name()) << timestamp_record(boot_seconds() + 1000, *boot_id());
  EXPECT_FALSE(store.fresh(key));
  // A directory others can enter is not trusted.
  ::chmod(dir.c_str(), 0755);
  EXPECT_FALSE(store.fresh(bob));
  std::filesystem::remove_all(tmpl);
}

// Attacker: a user who authenticated before a reboot, with a timestamp
// directory that survives reboots (CLOCK_BOOTTIME starts again at 0).
// Must hold: a record written in another boot, or naming no boot, is stale.
TEST(Timestamp, ARecordOfAnotherBootIsStale) {
  if (::geteuid() != 0) GTEST_SKIP() << "timestamp records need a root-owned directory";
  char tmpl[] = "/tmp/hoist-ts-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = std::string(tmpl) + "/ts";
  const TimestampStore store(dir);
  const TimestampKey key{1000, 34816, ::getsid(0), 12345};
  ASSERT_TRUE(store.update(key).ok());
  ASSERT_TRUE(store.fresh(key));
  // The record as an earlier version wrote it: seconds only, no boot.
  const auto before = boot_seconds() > 10 ? boot_seconds() - 10 : 0;
  std::ofstream(dir + "/" + key.file_name(), std::ios::trunc) << before << "\n";
  EXPECT_FALSE(store.fresh(key)) << "a record that names no boot";
  std::ofstream(dir + "/" + key.file_name(), std::ios::trunc) << before << " 00000000-1111-2222-3333-444444444444\n";
  EXPECT_FALSE(store.fresh(key)) << "a record of another boot";
  std::filesystem::remove_all(tmpl);
}

TEST(Timestamp, RecordTextNamesItsBoot) {
  const std::string boot = "3fd2b53f-e7ff-490d-be1a-c31f67dcb12b";
  EXPECT_EQ(timestamp_record(100, boot), "100 " + boot + "\n");
  EXPECT_TRUE(timestamp_record_fresh(timestamp_record(100, boot), 150, boot));
  EXPECT_TRUE(timestamp_record_fresh(timestamp_record(100, boot), 100 + kTimestampTimeout - 1, boot));
  EXPECT_FALSE(timestamp_record_fresh(timestamp_record(100, boot), 100 + kTimestampTimeout, boot)) << "expired";
  EXPECT_FALSE(timestamp_record_fresh(timestamp_record(151, boot), 150, boot)) << "from the future";
  EXPECT_FALSE(timestamp_record_fresh(timestamp_record(100, boot), 150, "00000000-0000-0000-0000-000000000000"));
  EXPECT_FALSE(timestamp_record_fresh("100\n", 150, boot)) << "no boot named";
  EXPECT_FALSE(timestamp_record_fresh(timestamp_record(100, boot), 150, "")) << "this boot unknown";
  EXPECT_FALSE(timestamp_record_fresh("1x0 " + boot, 150, boot));
  EXPECT_FALSE(timestamp_record_fresh("", 150, boot));
  auto id = boot_id();
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->size(), 36U);
}

TEST(Timestamp, KeyReadsTheSessionLeadersStartTime) {
  auto start = process_start_time(::getpid());
  ASSERT_TRUE(start.ok()) << start.error().message;
  EXPECT_GT(*start, 0u);
  EXPECT_FALSE(process_start_time(0).ok());
  plugin::UserInfo user;
  user.uid = 1000;
  user.ppid = ::getpid();
  auto key = timestamp_key(user);  // no tty: keyed on the parent process
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->tty_device, 0u);
  EXPECT_EQ(key->sid, ::getpid());
  EXPECT_EQ(key->start_time, *start);
}

TEST(AgentClient, TurnsHaveDeadlinesAndRefuseMalformedReplies) {
  char tmpl[] = "/tmp/hoist-ac-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string socket = std::string(tmpl) + "/agent.sock";
  EXPECT_EQ(AgentClient::connect(socket).error().code, ErrorCode::kUnavailable);  // nobody listens

  testing::FakeAgent agent(socket);
  ASSERT_TRUE(agent.listening());
  const ipc::Fields pong = ipc::to_fields(ipc::ErrorMessage{ErrorCode::kNotFound, "pong"});
  agent.script({[&](const testing::Received&) { return testing::Answer::of(pong); },
                [&](const testing::Received&) {
                  std::this_thread::sleep_for(std::chrono::milliseconds(600));
                  return testing::Answer::of(pong);
                },
                [&](const testing::Received&) { return testing::Answer::bytes(*ipc::encode_frame(pong) + "x"); }});
  agent.start();
  const AgentTimeouts quick{500, 200};
  const ipc::Fields ping = ipc::to_fields(ipc::CancelMessage{"r"});

  auto client = AgentClient::connect(socket, quick);
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

  auto again = AgentClient::connect(socket, quick);
  ASSERT_TRUE(again.ok());
  auto trailing = again->call(ping);  // a frame and a stray byte
  EXPECT_FALSE(trailing.ok());

  agent.stop();
  auto got = agent.received();
  ASSERT_GE(got.size(), 1u);
  EXPECT_TRUE(got[0].had_fd);
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace hoist::plugin
