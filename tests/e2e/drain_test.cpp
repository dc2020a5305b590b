// SIGTERM stops hoistd gracefully: a long poll in flight is answered at
// once, the process exits 0 within a few seconds, and nothing listens on
// its port afterwards.
#include "e2e_test_support.h"

namespace hoist::e2e {
namespace {

TEST(E2eDrain, SigtermAnswersALongPollAndExitsZero) {
  HoistdProcess hoistd;
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
  auto agent = hoistd.enrol({"web"});
  ASSERT_TRUE(agent) << agent.error().message;
  const auto queued = hoistd.call("GET", "/api/v1/agent/push?after=0", "", agent->headers());
  ASSERT_EQ(queued.status, 200) << queued;
  const auto cursor = static_cast<std::uint64_t>(queued.num("/cursor"));

  BackgroundPoll poll(hoistd, *agent, cursor, 60);
  ASSERT_TRUE(poll.started());
  ASSERT_FALSE(poll.reply(milliseconds(0))) << "the long poll should still be waiting";

  const auto signalled_at = steady_clock::now();
  hoistd.signal(SIGTERM);
  const auto reply = poll.reply(milliseconds(10000));
  ASSERT_TRUE(reply) << "SIGTERM did not answer the long poll\n" << hoistd.output();
  EXPECT_LT(std::chrono::duration<double>(poll.answered_at() - signalled_at).count(), 3.0);
  ASSERT_EQ(reply->status, 200) << *reply << "\n" << hoistd.output();
  EXPECT_TRUE(reply->array("/messages").empty()) << *reply;
  EXPECT_EQ(static_cast<std::uint64_t>(reply->num("/cursor")), cursor) << *reply;

  const auto status = hoistd.wait_exit(milliseconds(5000));
  ASSERT_TRUE(status) << "hoistd still runs 5 s after SIGTERM\n" << hoistd.output();
  EXPECT_EQ(*status, 0) << hoistd.output();
  // Nothing holds it up: the long poll's client closed its connection once
  // answered, and the fixture closed its own before the signal.
  EXPECT_LT(seconds_since(signalled_at), 3.0);
  const std::string log = hoistd.output();
  EXPECT_NE(log.find("\"http.draining\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"hoistd.stopped\""), std::string::npos) << log;
  EXPECT_EQ(log.find("\"http.drain_timeout\""), std::string::npos) << log;

  // Nothing accepts connections on the port any more.
  auto client = hoistd.client();
  ASSERT_NE(client, nullptr);
  auto refused = client->request("GET", "/api/v1/health");
  ASSERT_FALSE(refused) << "HTTP " << refused->status;
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable) << refused.error().message;
}

}  // namespace
}  // namespace hoist::e2e
