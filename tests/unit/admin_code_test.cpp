// Offline admin codes (core/admin_code.h): known answers computed with an
// independent implementation of the construction (Python's hmac and
// hashlib, in docs/admin-codes.md), round trips, and refusal of every
// wrong host, user, command, challenge and every single-character change.
#include "core/admin_code.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace hoist::codes {
namespace {

std::vector<std::uint8_t> master() {
  std::vector<std::uint8_t> m(32);
  std::iota(m.begin(), m.end(), 0);
  return m;
}

constexpr std::string_view kHost = "ep-0123456789abcdef";
constexpr Challenge kChallenge{76, 0x2A5F3C1};

HostKey key(std::string_view host = kHost, std::uint32_t generation = 1) {
  auto k = derive_host_key(master(), host, generation);
  EXPECT_TRUE(k.ok()) << k.error().message;
  return k.ok() ? *k : HostKey{};
}

std::string hex(const HostKey& k) {
  std::string out;
  for (const auto b : k) out += fmt::format("{:02x}", b);
  return out;
}

TEST(AdminCode, KnownAnswers) {
  EXPECT_EQ(hex(key()), "e5eee553a0b656a28bba3febde63f0c454bf77dd9634845a67066d52b1b66d18");
  EXPECT_EQ(host_tag(kHost), 76);
  EXPECT_EQ(format_challenge(kChallenge), "AC1A-BWY1");
  EXPECT_EQ(*compute_response(key(), kChallenge, CodeTerms{"alice", Seconds{3600}, ""}), "CC65-Z6PH-TYKE");
  EXPECT_EQ(*compute_response(key(), kChallenge, CodeTerms{"alice", Seconds{1800}, "/usr/bin/apt-get"}),
            "9FWD-05A1-AMNN");
  EXPECT_EQ(*issue_preissued(key(), PreIssued{0xBEEF, 20423, 7}, CodeTerms{"alice", Seconds{7200}, ""}),
            "80QV-QG5F-1KHS-30GK-EWR4");
}

TEST(AdminCode, AResponseGrantsWhatTheHelpDeskChose) {
  auto session = verify_response(key(), kChallenge, "alice", "", "CC65-Z6PH-TYKE");
  ASSERT_TRUE(session.ok()) << session.error().message;
  EXPECT_EQ(*session, (CodeTerms{"alice", Seconds{3600}, ""}));
  // A session code also works at a sudo prompt (any command).
  EXPECT_TRUE(verify_response(key(), kChallenge, "alice", "/usr/bin/id", "CC65-Z6PH-TYKE").ok());
  auto scoped = verify_response(key(), kChallenge, "alice", "/usr/bin/apt-get", "9fwd 05a1 amnn");
  ASSERT_TRUE(scoped.ok()) << scoped.error().message;
  EXPECT_EQ(*scoped, (CodeTerms{"alice", Seconds{1800}, "/usr/bin/apt-get"}));
}

TEST(AdminCode, ReadingForgivesCaseDashesAndLookAlikes) {
  EXPECT_EQ(*parse_challenge("ac1a bwy1"), kChallenge);
  EXPECT_EQ(*decode_base32("0O1IL", 5), 0b00000'00000'00001'00001'00001U);
  EXPECT_EQ(encode_base32(0x3FF, 2, false), "ZZ");
  EXPECT_FALSE(decode_base32("U0000", 5).ok());
  EXPECT_FALSE(decode_base32("0000", 5).ok());
  EXPECT_FALSE(parse_challenge("AC1A-BWY1-0").ok());
  EXPECT_FALSE(parse_challenge("").ok());
  EXPECT_EQ(*kind_of("AC1A-BWY1"), CodeKind::kChallenge);
  EXPECT_EQ(*kind_of("CC65-Z6PH-TYKE"), CodeKind::kResponse);
  EXPECT_EQ(*kind_of("80QV-QG5F-1KHS-30GK-EWR4"), CodeKind::kPreIssued);
  EXPECT_FALSE(kind_of("CC65-Z6PH-TYK").ok());
  EXPECT_FALSE(kind_of("CC65-Z6PH-TYK\xc3\xa9").ok());
}

TEST(AdminCode, EveryWrongFieldIsRefusedTheSameWay) {
  const auto refused = [](const Result<CodeTerms>& r, const std::string& what) {
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied) << what;
    EXPECT_NE(r.error().message.find("does not fit"), std::string::npos) << what << ": " << r.error().message;
  };
  const std::string response = "CC65-Z6PH-TYKE";
  refused(verify_response(key("ep-other"), kChallenge, "alice", "", response), "another host");
  refused(verify_response(key(kHost, 2), kChallenge, "alice", "", response), "a rotated key");
  refused(verify_response(key(), kChallenge, "bob", "", response), "another user");
  refused(verify_response(key(), Challenge{76, 0x2A5F3C2}, "alice", "", response), "another challenge");
  refused(verify_response(key(), kChallenge, "alice", "/usr/bin/id", "9FWD-05A1-AMNN"), "another command");
  refused(verify_response(key(), kChallenge, "alice", "", "9FWD-05A1-AMNN"), "a command code as a session");
  // Every single-character change: the duration and scope bits are under
  // the MAC too.
  const std::string plain = "CC65Z6PHTYKE";
  for (std::size_t i = 0; i < plain.size(); ++i) {
    for (const char c : kAlphabet) {
      if (c == plain[i]) continue;
      std::string changed = plain;
      changed[i] = c;
      auto r = verify_response(key(), kChallenge, "alice", "/usr/bin/id", changed);
      ASSERT_FALSE(r.ok()) << changed;
      EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied) << changed;
    }
  }
}

TEST(AdminCode, TheHelpDeskCannotIssueWhatTheCodeCannotSay) {
  EXPECT_FALSE(compute_response(key(), kChallenge, CodeTerms{"alice", Seconds{3601}, ""}).ok());
  EXPECT_FALSE(compute_response(key(), kChallenge, CodeTerms{"", Seconds{3600}, ""}).ok());
  EXPECT_FALSE(compute_response(key(), kChallenge, CodeTerms{"alice", Seconds{3600}, "apt-get"}).ok());
  EXPECT_FALSE(derive_host_key(std::vector<std::uint8_t>(16), kHost, 1).ok());
  EXPECT_FALSE(derive_host_key(master(), "", 1).ok());
  for (const auto d : kCodeDurations) {
    if (d == 0) continue;
    auto r = compute_response(key(), kChallenge, CodeTerms{"alice", Seconds{d}, ""});
    ASSERT_TRUE(r.ok()) << d;
    EXPECT_EQ(verify_response(key(), kChallenge, "alice", "", *r)->duration, Seconds{d});
  }
}

TEST(AdminCode, PreIssuedCodesHoldOnlyInTheirWindow) {
  const std::string code = "80QV-QG5F-1KHS-30GK-EWR4";
  for (const std::uint32_t day : {20423U, 20426U, 20429U}) {
    auto ok = verify_preissued(key(), "alice", "", day, code);
    ASSERT_TRUE(ok.ok()) << day << ": " << ok.error().message;
    EXPECT_EQ(ok->code, (PreIssued{0xBEEF, 20423, 7}));
    EXPECT_EQ(ok->terms.duration, Seconds{7200});
  }
  for (const std::uint32_t day : {20422U, 20430U}) {
    auto late = verify_preissued(key(), "alice", "", day, code);
    ASSERT_FALSE(late.ok()) << day;
    EXPECT_NE(late.error().message.find("valid on 7 day(s)"), std::string::npos) << late.error().message;
  }
  EXPECT_FALSE(verify_preissued(key(), "bob", "", 20423, code).ok());
  EXPECT_FALSE(verify_preissued(key("ep-other"), "alice", "", 20423, code).ok());
  EXPECT_FALSE(issue_preissued(key(), PreIssued{1U << 24, 20423, 7}, CodeTerms{"alice", Seconds{3600}, ""}).ok());
  EXPECT_FALSE(issue_preissued(key(), PreIssued{1, 20423, 0}, CodeTerms{"alice", Seconds{3600}, ""}).ok());
  EXPECT_FALSE(issue_preissued(key(), PreIssued{1, 100, 3}, CodeTerms{"alice", Seconds{3600}, ""}).ok());
}

}  // namespace
}  // namespace hoist::codes
