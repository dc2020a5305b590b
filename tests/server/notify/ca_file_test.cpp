// A channel's ca_file (notify/ca_file.h), as an admin who probes hoistd's
// file system through it would try: every reason it cannot be used gives
// the one same error, through every kind's sender, and only the log's
// reason tells them apart; a FIFO or a device does not hold the sender up.
#include "server/notify/ca_file.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>
#include <atomic>
#include <cerrno>
#include <set>
#include <thread>

#include "server/notify/kinds.h"
#include "server/notify/senders.h"
#include "support/tls_test_support.h"

namespace hoist::notify {
namespace {

namespace tt = hoist::tls::testing;

class CaFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = tt::make_cert("Test CA", tt::kNow - hours(1), tt::kNow + hours(24 * 365), true);
    ca_pem_ = tt::pem_of(ca.cert.get());
    key_pem_ = tt::pem_of(ca.key.get());
  }

  // Each way a path can be unusable, with what the log says of it.
  struct Bad {
    std::string what;
    std::string path;
    std::string problem;  // a word of read_ca_file's reason
  };
  std::vector<Bad> bad_paths() {
    std::vector<Bad> out = {
        {"missing", dir_.path() + "/no-such.pem", "No such file"},
        {"a directory", dir_.path(), "directory"},
        {"a device that never ends", "/dev/zero", "not a regular file"},
        {"empty", dir_.write("empty.pem", ""), "no PEM certificate"},
        {"not PEM", dir_.write("notes.txt", "just some text\n"), "no PEM certificate"},
        {"a key, no certificate", dir_.write("key.pem", key_pem_), "no PEM certificate"},
        {"broken PEM", dir_.write("broken.pem", "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
         "PEM"},
        {"too large", dir_.write("huge.pem", ca_pem_ + std::string(kMaxCaFileBytes, '\n')), "larger than"},
        {"relative", "relative/ca.pem", "absolute"},
    };
    const std::string fifo = dir_.path() + "/fifo.pem";
    EXPECT_TRUE(::mkfifo(fifo.c_str(), 0644) == 0 || errno == EEXIST);
    out.push_back({"a FIFO nobody writes to", fifo, "not a regular file"});
    // Root reads a file whatever its mode: the case means something only
    // when the tests run as another user (as hoistd should).
    if (::geteuid() != 0) {
      out.push_back({"unreadable", dir_.write("secret.pem", ca_pem_, 0000), "Permission denied"});
    }
    return out;
  }

  static std::chrono::hours hours(int n) { return std::chrono::hours(n); }

  hoist::testing::TempDir dir_;
  std::string ca_pem_;
  std::string key_pem_;
};

TEST_F(CaFileTest, AUsableFileIsReadWhole) {
  const auto path = dir_.write("ca.pem", "a comment before it\n" + ca_pem_ + ca_pem_);
  auto pem = read_ca_file(path);
  ASSERT_TRUE(pem.ok()) << pem.error().message;
  EXPECT_EQ(*pem, "a comment before it\n" + ca_pem_ + ca_pem_);
  EXPECT_FALSE(ca_file_problem(R"({"url":"https://h.example/","ca_file":")" + path + R"("})").has_value());
  EXPECT_FALSE(ca_file_problem(R"({"url":"https://h.example/"})").has_value());
  // Through a symbolic link too (as /etc/ssl/certs holds them).
  const auto link = dir_.path() + "/link.pem";
  ASSERT_EQ(::symlink(path.c_str(), link.c_str()), 0);
  EXPECT_TRUE(read_ca_file(link).ok());
}

TEST_F(CaFileTest, EveryReasonGivesTheSameErrorAndOnlyTheLogTellsThemApart) {
  std::set<std::string> problems;
  for (const auto& bad : bad_paths()) {
    SCOPED_TRACE(bad.what);
    std::string problem;
    auto pem = read_ca_file(bad.path, &problem);
    ASSERT_FALSE(pem.ok());
    EXPECT_EQ(pem.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(pem.error().message, kUnusableCaFile);
    EXPECT_NE(problem.find(bad.problem), std::string::npos) << problem;
    problems.insert(problem);
    const auto logged = ca_file_problem(R"({"ca_file":")" + bad.path + R"("})");
    ASSERT_TRUE(logged.has_value());
    EXPECT_EQ(*logged, bad.path + ": " + problem);
  }
  EXPECT_GE(problems.size(), 6U);  // the log does tell them apart
}

// The errors admins and auditors read come from making a channel's sender
// (a delivery's last_error): the same for every reason, whatever the kind.
TEST_F(CaFileTest, EveryKindsSenderSaysTheSameForEveryReason) {
  const std::string secrets_of[] = {
      channel_secrets_json({"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", {}, {}}),
      channel_secrets_json({"xoxb-1234-5678-AbCdEfGhIjKl", {}, {}}),
      channel_secrets_json(
          {"https://prod.example.logic.azure.com/workflows/1/triggers/manual/paths/invoke?sig=x", {}, {}}),
      "",
  };
  const std::string configs[] = {
      R"({"url":"https://127.0.0.1:1/hook","timeout_s":5,"ca_file":")",
      R"({"mode":"bot","channel":"C0123ABC","timeout_s":5,"ca_file":")",
      R"({"timeout_s":5,"ca_file":")",
      R"({"smtp_url":"smtps://127.0.0.1:1","from":"hoist@example.com","to":["a@example.com"],"ca_file":")",
  };
  const std::string kinds[] = {"webhook", "slack", "teams", "email"};
  for (std::size_t k = 0; k < 4; ++k) {
    std::set<std::string> answers;
    for (const auto& bad : bad_paths()) {
      // A relative path is refused with the config (no file is looked at).
      if (bad.path.front() != '/') continue;
      store::ChannelRecord c;
      c.id = "ch-" + kinds[k];
      c.kind = kinds[k];
      c.config = configs[k] + bad.path + R"("})";
      auto made = make_sender(c, secrets_of[k]);
      ASSERT_FALSE(made.ok()) << kinds[k] << ", " << bad.what;
      answers.insert(fmt::format("{} {}", static_cast<int>(made.error().code), made.error().message));
    }
    EXPECT_EQ(
        answers,
        (std::set<std::string>{fmt::format("{} {}", static_cast<int>(ErrorCode::kInvalidArgument), kUnusableCaFile)}))
        << kinds[k];
    // And with a usable file, the sender is made.
    store::ChannelRecord c;
    c.id = "ch-" + kinds[k];
    c.kind = kinds[k];
    c.config = configs[k] + dir_.write("good.pem", ca_pem_) + R"("})";
    auto made = make_sender(c, secrets_of[k]);
    EXPECT_TRUE(made.ok()) << kinds[k] << ": " << made.error().message;
  }
}

// The attack pass: a FIFO's writer waiting for a reader was released by
// hoistd's open, which also runs a device's driver. Only a regular file
// is ever opened for reading: a writer stays waiting.
TEST_F(CaFileTest, AFifosWriterIsNeverReleased) {
  const std::string fifo = dir_.path() + "/waiting.pem";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  std::atomic<bool> opened{false};
  std::thread writer([&] {
    const int fd = ::open(fifo.c_str(), O_WRONLY);  // blocks until someone opens it for reading
    opened = true;
    if (fd >= 0) ::close(fd);
  });
  for (int i = 0; i < 20; ++i) {
    std::string problem;
    EXPECT_FALSE(read_ca_file(fifo, &problem).ok());
    EXPECT_NE(problem.find("not a regular file"), std::string::npos) << problem;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(opened.load()) << "read_ca_file opened the FIFO for reading";
  // Let the writer go.
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  writer.join();
  if (reader >= 0) ::close(reader);
}

// A path swapped after the check reaches nothing: the text read is what
// the client verifies with (receiver_client never hands it the path).
TEST_F(CaFileTest, TheClientVerifiesWithTheTextReadNotThePathAgain) {
  const auto path = dir_.write("swapped.pem", ca_pem_);
  auto client = receiver_client("https://127.0.0.1:1", path, std::chrono::seconds{1}, 1024);
  ASSERT_TRUE(client.ok()) << client.error().message;
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_EQ(::mkfifo(path.c_str(), 0644), 0);
  // Made again from the same path, now a FIFO: refused at once, not stuck.
  auto again = receiver_client("https://127.0.0.1:1", path, std::chrono::seconds{1}, 1024);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().message, kUnusableCaFile);
}

}  // namespace
}  // namespace hoist::notify
