// The bound on every event's details (src/agent/event_bounds.h): what a
// local user can put in a sudo's argv never makes an event hoistd refuses.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "agent/event_bounds.h"
#include "core/sha256.h"

namespace hoist::agent {
namespace {

namespace json = boost::json;

// Read as hoistd reads an event's details: strict UTF-8, three levels
// down in the body, and measured as serialize() measures it.
json::object as_hoistd_reads(const std::string& text) {
  json::parse_options strict;
  strict.allow_invalid_utf8 = false;
  strict.max_depth = 29;
  json::error_code ec;
  auto v = json::parse(text, ec, json::storage_ptr(), strict);
  EXPECT_FALSE(ec) << ec.message() << "\n" << text.substr(0, 300);
  EXPECT_TRUE(v.is_object());
  EXPECT_LE(json::serialize(v).size(), std::size_t{16} * 1024);
  EXPECT_EQ(json::serialize(v), text) << "repeated keys or not canonical";
  return v.is_object() ? v.get_object() : json::object{};
}

std::string decision(const json::array& argv, const std::string& target = "") {
  return json::serialize(json::object{{"target", target},
                                      {"user", "alice"},
                                      {"uid", 1000},
                                      {"command", "/usr/bin/id"},
                                      {"argv", argv},
                                      {"action", "deny"},
                                      {"reason", "no rule allows it"}});
}

std::string cmdline(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) out += a + std::string(1, '\0');
  return out;
}

TEST(EventBounds, SmallDetailsComeBackAsTheyWere) {
  const std::string in = decision(json::array{"id", "-u"});
  EXPECT_EQ(bound_event_details(in), in);
  EXPECT_EQ(as_hoistd_reads(bound_event_details(in)).count("truncated"), 0U);
}

TEST(EventBounds, OneHugeArgumentIsCutWithItsLengthAndTheArgvDigest) {
  const std::string big(100 * 1024, 'A');
  const std::string out = bound_event_details(decision(json::array{"id", json::string(big)}));
  EXPECT_LE(out.size(), kMaxEventDetailsBytes);
  const auto details = as_hoistd_reads(out);
  EXPECT_EQ(details.at("truncated"), true);
  EXPECT_GT(details.at("full_bytes").to_number<std::uint64_t>(), big.size());
  const auto& argv = details.at("argv").as_array();
  ASSERT_EQ(argv.size(), 2U);
  EXPECT_EQ(argv[0], "id");
  const std::string cut(argv[1].as_string());
  EXPECT_EQ(cut.rfind("AAAA", 0), 0U);
  EXPECT_NE(cut.find("[cut, 102400 bytes in all]"), std::string::npos) << cut;
  EXPECT_EQ(details.at("argv_count"), 2);
  EXPECT_EQ(details.at("argv_bytes"), 3 + big.size() + 1);
  EXPECT_EQ(details.at("argv_sha256"), json::string(sha256(cmdline({"id", big})).hex()));
  // What the agent wrote stays: who, what, the verdict.
  EXPECT_EQ(details.at("user"), "alice");
  EXPECT_EQ(details.at("action"), "deny");
  EXPECT_EQ(details.at("command"), "/usr/bin/id");
}

TEST(EventBounds, ThousandsOfArgumentsAreCutWithTheirCount) {
  json::array argv{"echo"};
  std::vector<std::string> all{"echo"};
  for (int i = 0; i < 5000; ++i) {
    argv.emplace_back(json::string(std::string(20, 'x')));
    all.emplace_back(20, 'x');
  }
  const auto details = as_hoistd_reads(bound_event_details(decision(argv)));
  const auto& kept = details.at("argv").as_array();
  ASSERT_FALSE(kept.empty());
  EXPECT_LT(kept.size(), 100U);
  EXPECT_EQ(kept.back(), "...[cut, 5001 items in all]");
  EXPECT_EQ(details.at("argv_count"), 5001);
  EXPECT_EQ(details.at("argv_sha256"), json::string(sha256(cmdline(all)).hex()));
}

TEST(EventBounds, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  // hoistd refuses a body that is not UTF-8: one such argument would
  // have blocked every event behind it.
  const std::vector<std::string> raw{"id", "\xff\xfe", "ok\xC3\xA9", "\xED\xA0\x80", "\xC0\xAF"};
  json::array argv;
  for (const auto& a : raw) argv.emplace_back(json::string(a));
  const auto details = as_hoistd_reads(bound_event_details(decision(argv)));
  const auto& kept = details.at("argv").as_array();
  EXPECT_EQ(kept[1], "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(kept[2], "ok\xC3\xA9") << "valid UTF-8 is kept";
  EXPECT_EQ(kept[3], "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD") << "a surrogate is not UTF-8";
  EXPECT_EQ(kept[4], "\xEF\xBF\xBD\xEF\xBF\xBD") << "an overlong form is not UTF-8";
  EXPECT_EQ(details.count("truncated"), 0U) << "nothing was left out";
  EXPECT_EQ(details.at("argv_sha256"), json::string(sha256(cmdline(raw)).hex())) << "the raw bytes' digest";
}

TEST(EventBounds, ALongTargetIsCutTo256Bytes) {
  const auto details = as_hoistd_reads(bound_event_details(decision(json::array{"id"}, std::string(1000, 't'))));
  EXPECT_LE(details.at("target").as_string().size(), kMaxEventTargetBytes);
  EXPECT_NE(std::string(details.at("target").as_string()).find("1000 bytes in all"), std::string::npos);
  // Not a string: its JSON text, as a string.
  const auto other = as_hoistd_reads(bound_event_details(R"({"target":[1,2]})"));
  EXPECT_EQ(other.at("target"), "[1,2]");
}

TEST(EventBounds, TextThatIsNotAnObjectIsKeptAsText) {
  EXPECT_EQ(as_hoistd_reads(bound_event_details("not json")).at("text"), "not json");
  EXPECT_EQ(as_hoistd_reads(bound_event_details("[1,2]")).at("text"), "[1,2]");
  EXPECT_EQ(as_hoistd_reads(bound_event_details("")).at("text"), "");
}

TEST(EventBounds, DeepNestingAndManyFieldsAreCut) {
  std::string deep = R"({"a":)";
  for (int i = 0; i < 40; ++i) deep += "[";
  for (int i = 0; i < 40; ++i) deep += "]";
  deep += "}";
  auto details = as_hoistd_reads(bound_event_details(deep));
  EXPECT_NE(json::serialize(details).find("nested too deep"), std::string::npos);
  EXPECT_EQ(details.at("truncated"), true);

  json::object many;
  for (int i = 0; i < 3000; ++i) many["k" + std::to_string(i)] = i;
  details = as_hoistd_reads(bound_event_details(json::serialize(many)));
  EXPECT_EQ(details.at("..."), "[cut, 3000 fields in all]");
}

TEST(EventBounds, DetailsThatAreAllEscapesStillFit) {
  // Control characters take six bytes each once serialized.
  json::object o{{"target", std::string(300, '\x01')}, {"argv", json::array{}}};
  for (int i = 0; i < 64; ++i) {
    o[std::string(64, static_cast<char>('\x01' + i % 20)) + std::to_string(i)] =
        json::array{std::string(2000, '\x02'), std::string(2000, '\x03'), std::string(2000, '\x04')};
  }
  const auto details = as_hoistd_reads(bound_event_details(json::serialize(o)));
  EXPECT_EQ(details.at("truncated"), true);
  EXPECT_TRUE(details.at("target").is_string());
}

TEST(EventBounds, BoundingTwiceChangesNothing) {
  const std::string big(70000, '\x01');
  for (const std::string& in :
       {decision(json::array{"id", json::string(big)}), decision(json::array{"id", "\xff"}), std::string("plain text"),
        std::string(R"({"truncated":true,"full_bytes":1,"...":"x","argv":["a"]})"),
        decision(json::array{"id"}, std::string(900, '\xff'))}) {
    const std::string once = bound_event_details(in);
    EXPECT_EQ(bound_event_details(once), once) << in.substr(0, 80);
  }
}

// Found by event_bounds_fuzz: Boost.JSON's parser read a 50-digit number
// as one double and its own shortest text as the next one, so the details
// did not read back as written.
TEST(EventBounds, ANumberReadsBackAsItself) {
  for (const std::string& in : {std::string(R"({"n":65555555555555555555555555555555555555555555555555})"),
                                std::string(R"({"n":1.7976931348623157e308,"m":4.9e-324,"k":[0.1,2.5e-300]})")}) {
    const std::string once = bound_event_details(in);
    as_hoistd_reads(once);
    EXPECT_EQ(bound_event_details(once), once) << once;
  }
}

}  // namespace
}  // namespace hoist::agent
