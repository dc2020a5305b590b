// The console's list of audit kinds (console/src/lib/audit_kinds.ts) is the
// C++ one (core/audit_kind.h), in the same order: a kind added, renamed or
// removed on one side only fails here, with the list to paste.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/audit_kind.h"

namespace hoist {
namespace {

constexpr std::string_view kOpening = "export const AUDIT_KINDS = [";
constexpr std::string_view kClosing = "] as const;";

// The kinds between kOpening and kClosing, one `  'kind',` a line; a line
// of any other form is reported in `problems`.
std::vector<std::string> console_kinds(std::istream& in, std::vector<std::string>& problems) {
  std::vector<std::string> out;
  std::string line;
  bool inside = false;
  bool closed = false;
  for (int number = 1; std::getline(in, line); ++number) {
    if (!inside) {
      inside = line == kOpening;
      continue;
    }
    if (line == kClosing) {
      closed = true;
      break;
    }
    const std::string_view body(line);
    if (body.size() > 5 && body.starts_with("  '") && body.ends_with("',") &&
        body.substr(3, body.size() - 5).find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.") ==
            std::string_view::npos) {
      out.emplace_back(body.substr(3, body.size() - 5));
    } else {
      problems.push_back("line " + std::to_string(number) + " is not `  'kind',`: " + line);
    }
  }
  if (!inside) problems.push_back("no line `" + std::string(kOpening) + "`");
  if (inside && !closed) problems.push_back("no line `" + std::string(kClosing) + "` after the list");
  return out;
}

TEST(ConsoleAuditKinds, AreTheCppKindsInOrder) {
  std::ifstream file(HOIST_CONSOLE_AUDIT_KINDS);
  ASSERT_TRUE(file) << "cannot read " << HOIST_CONSOLE_AUDIT_KINDS;
  std::vector<std::string> problems;
  const auto console = console_kinds(file, problems);
  EXPECT_EQ(problems, std::vector<std::string>{});

  std::vector<std::string> cpp;
  std::string expected_block = std::string(kOpening) + "\n";
  for (const AuditKind kind : all_audit_kinds()) {
    cpp.emplace_back(to_string(kind));
    expected_block += "  '" + cpp.back() + "',\n";
  }
  expected_block += std::string(kClosing) + "\n";
  if (console == cpp) return;
  std::string diff;
  for (const auto& k : cpp) {
    if (std::find(console.begin(), console.end(), k) == console.end()) diff += "  only in C++: " + k + "\n";
  }
  for (const auto& k : console) {
    if (std::find(cpp.begin(), cpp.end(), k) == cpp.end()) diff += "  only in the console: " + k + "\n";
  }
  if (diff.empty()) diff = "  the same kinds, in another order (or one twice)\n";
  ADD_FAILURE() << HOIST_CONSOLE_AUDIT_KINDS << " lists other audit kinds than src/core/audit_kind.cpp:\n"
                << diff << "The list there should read:\n"
                << expected_block;
}

TEST(ConsoleAuditKinds, TheReaderRefusesWhatItCannotCheck) {
  std::vector<std::string> problems;
  std::istringstream missing("export const KINDS = ['a.b'];\n");
  EXPECT_TRUE(console_kinds(missing, problems).empty());
  EXPECT_EQ(problems.size(), 1U);

  problems.clear();
  std::istringstream odd(std::string(kOpening) + "\n  'a.b',\n  \"c.d\",\n  'e.f', 'g.h',\n  'X.y',\n" +
                         std::string(kClosing) + "\n");
  EXPECT_EQ(console_kinds(odd, problems), std::vector<std::string>{"a.b"});
  EXPECT_EQ(problems.size(), 3U);

  problems.clear();
  std::istringstream open(std::string(kOpening) + "\n  'a.b',\n");
  EXPECT_EQ(console_kinds(open, problems), std::vector<std::string>{"a.b"});
  EXPECT_EQ(problems.size(), 1U);
}

}  // namespace
}  // namespace hoist
