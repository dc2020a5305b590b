// hoist-agent's counters: what each exchange counts, the exact text, the
// textfile written whole (and read as valid exposition format by the real
// promtool from Debian's prometheus package).
#include "agent/agent_metrics.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "agent/state/fake_agent_state.h"
#include "ipc/messages.h"
#include "support/temp_dir.h"

namespace hoist::agent {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

ipc::Fields decision(Action action) {
  ipc::DecisionMessage d;
  d.action = action;
  d.reason = "because";
  return ipc::to_fields(d);
}

ipc::Fields error_frame() {
  return ipc::to_fields(ipc::ErrorMessage{ErrorCode::kPermissionDenied, "no"});
}

TEST(AgentMetrics, CountsChecksByOutcomeAndSubmissions) {
  FakeAgentState state;
  AgentMetrics m(state);
  const auto check = ipc::to_fields(ipc::CheckMessage{});
  m.count_exchange(check, decision(Action::kAllow));
  m.count_exchange(check, decision(Action::kAllow));
  m.count_exchange(check, decision(Action::kDeny));
  m.count_exchange(check, decision(Action::kRequest));
  m.count_exchange(check, error_frame());
  ipc::RequestStateMessage pending;
  pending.request_id = "req-1";
  m.count_exchange(ipc::to_fields(ipc::SubmitMessage{}), ipc::to_fields(pending));
  m.count_exchange(ipc::to_fields(ipc::SubmitMessage{}), error_frame());  // refused: not submitted
  m.count_exchange(ipc::to_fields(ipc::ElevateMessage{}), ipc::to_fields(pending));
  m.count_exchange(ipc::to_fields(ipc::WaitMessage{}), ipc::to_fields(pending));  // counts nothing
  m.events_queued();
  m.events_queued(2);
  m.events_uploaded(2);
  m.events_quarantined(1);
  ASSERT_TRUE(state.enqueue(OutboxEvent{"0123456789abcdef0123456789abcdef", "command", EventTime{}, "{}"}).ok());
  const auto text = m.render();
  EXPECT_TRUE(has_line(text, "hoist_agent_checks_total{outcome=\"allow\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "hoist_agent_checks_total{outcome=\"deny\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "hoist_agent_checks_total{outcome=\"request\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "hoist_agent_checks_total{outcome=\"error\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "hoist_agent_requests_submitted_total{kind=\"command\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "hoist_agent_requests_submitted_total{kind=\"session\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "hoist_agent_events_queued_total 3")) << text;
  EXPECT_TRUE(has_line(text, "hoist_agent_events_uploaded_total 2")) << text;
  EXPECT_TRUE(has_line(text, "hoist_agent_events_quarantined_total 1")) << text;
  EXPECT_TRUE(has_line(text, "hoist_agent_outbox_events 1")) << text;
}

TEST(AgentMetrics, TheTextfileIsReplacedWholeAndPromtoolAcceptsIt) {
  FakeAgentState state;
  AgentMetrics m(state);
  m.count_exchange(ipc::to_fields(ipc::CheckMessage{}), decision(Action::kAllow));
  hoist::testing::PrivateDir dir;
  const std::string path = dir.path() + "/hoist-agent.prom";
  ASSERT_TRUE(write_textfile(path, "old text that must go entirely, however long it was\n").ok());
  ASSERT_TRUE(write_textfile(path, m.render()).ok());
  std::ifstream in(path);
  const std::string written((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(written, m.render());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644U);
  // Nothing else is left in the directory (no temporary file).
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    ++files;
    EXPECT_EQ(e.path().filename(), "hoist-agent.prom");
  }
  EXPECT_EQ(files, 1U);

  if (::access("/usr/bin/promtool", X_OK) != 0) {
    FAIL() << "/usr/bin/promtool is missing: run scripts/install-deps.sh (Debian's prometheus package)";
  }
  const std::string command = "timeout 30 /usr/bin/promtool check metrics < '" + path + "' 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int status = ::pclose(p);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "promtool check metrics:\n" << out << written;
}

TEST(AgentMetrics, AnUnwritableDirectoryIsAnErrorThatNamesTheFile) {
  const auto st = write_textfile("/nonexistent-dir-of-hoist/x.prom", "x 1\n");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("/nonexistent-dir-of-hoist/x.prom"), std::string::npos);
}

}  // namespace
}  // namespace hoist::agent
