// [[siem]] in hoistd.toml: what is read, and a clear error for each
// mistake (naming the file, line and key).
#include <gtest/gtest.h>

#include "server/config.h"

namespace hoist::server {
namespace {

Status parse(const std::string& text, Config& c) {
  return parse_config(text, "hoistd.toml", c);
}

TEST(SiemConfig, StreamsAreRead) {
  Config c;
  ASSERT_TRUE(parse(R"([[siem]]
name = "soc"
kind = "syslog"
address = "siem.example.org:6514"
ca_file = "/etc/hoist/siem-ca.pem"

[[siem]]
name = "beats"
kind = "file"
path = "/var/log/hoist/audit.jsonl"

[[siem]]
name = "splunk"
kind = "hec"
url = "https://splunk.example.org:8088"
token_file = "/etc/hoist/hec.token"
)",
                    c)
                  .ok());
  ASSERT_EQ(c.siem.size(), 3U);
  EXPECT_EQ(c.siem[0].address, "siem.example.org:6514");
  EXPECT_TRUE(c.siem[0].tls);
  EXPECT_EQ(c.siem[1].path, "/var/log/hoist/audit.jsonl");
  EXPECT_EQ(c.siem[2].token_file, "/etc/hoist/hec.token");
}

TEST(SiemConfig, EachMistakeSaysWhatIsWrong) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[[siem]]\nname = \"a\"\nkind = \"kafka\"\n", "siem.kind must be"},
      {"[[siem]]\nname = \"A b\"\nkind = \"file\"\npath = \"/x\"\n", "siem.name must be"},
      {"[[siem]]\nname = \"a\"\nkind = \"file\"\npath = \"relative\"\n", "absolute path"},
      {"[[siem]]\nname = \"a\"\nkind = \"syslog\"\naddress = \"host\"\nca_file = \"/ca\"\n", "HOST:PORT"},
      {"[[siem]]\nname = \"a\"\nkind = \"syslog\"\naddress = \"h:1\"\n", "needs ca_file"},
      {"[[siem]]\nname = \"a\"\nkind = \"hec\"\nurl = \"http://h\"\ntoken_file = \"/t\"\n", "https://"},
      {"[[siem]]\nname = \"a\"\nkind = \"hec\"\nurl = \"https://h\"\n", "token_file"},
      {"[[siem]]\nname = \"a\"\nkind = \"file\"\npath = \"/x\"\ntoken = \"secret\"\n", "unknown key"},
      {"[[siem]]\nname = \"a\"\nkind = \"file\"\npath = \"/x\"\n[[siem]]\nname = \"a\"\nkind = \"file\"\npath = "
       "\"/y\"\n",
       "used twice"},
      {"[[siem]]\nname = \"a\"\nkind = \"syslog\"\naddress = \"h:1\"\ntls = \"no\"\n", "true or false"},
      {"siem = 3\n", "list of tables"},
  };
  for (const auto& [text, words] : cases) {
    Config c;
    auto st = parse(text, c);
    ASSERT_FALSE(st.ok()) << text;
    EXPECT_NE(st.error().message.find(words), std::string::npos) << text << "\n-> " << st.error().message;
    EXPECT_NE(st.error().message.find("hoistd.toml"), std::string::npos) << st.error().message;
  }
  Config plain;
  EXPECT_TRUE(parse("[[siem]]\nname = \"a\"\nkind = \"syslog\"\naddress = \"h:514\"\ntls = false\n", plain).ok());
}

}  // namespace
}  // namespace hoist::server
