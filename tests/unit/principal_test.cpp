#include "core/principal.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hoist {
namespace {

struct Case {
  std::string name;
  std::string canonical;
};

TEST(CanonicalPrincipal, FoldsCaseAndDropsRealmAndDomain) {
  const std::vector<Case> cases = {
      {"alice", "alice"},
      {"OpsBob", "opsbob"},
      {"OPSBOB", "opsbob"},
      {"alice@corp", "alice"},
      {"alice@corp.example", "alice"},
      {"Alice@CORP.EXAMPLE", "alice"},
      {"CORP\\alice", "alice"},
      {"corp.example\\Alice", "alice"},
      {"CORP\\Alice@corp.example", "alice"},
      {"a\\b\\carol", "carol"},
      {"dave@x@y", "dave"},
      {"first.last-2_x", "first.last-2_x"},
      {"", ""},
      {"@corp", ""},
      {"CORP\\", ""},
      // Bytes outside ASCII are compared as they are (no locale, no
      // Unicode tables in the core).
      {"J\xC3\x9CRGEN", "j\xC3\x9Crgen"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(canonical_principal(c.name), c.canonical) << c.name;
  }
}

TEST(SamePrincipal, TheReportedPairsAreTheSamePerson) {
  EXPECT_TRUE(same_principal("opsbob", "OpsBob"));
  EXPECT_TRUE(same_principal("alice@corp", "alice"));
  EXPECT_TRUE(same_principal("alice", "CORP\\Alice"));
  EXPECT_TRUE(same_principal("alice@corp.example", "alice@other.example")) << "errs towards the same";
}

TEST(SamePrincipal, DifferentPeopleStayDifferent) {
  EXPECT_FALSE(same_principal("alice", "bob"));
  EXPECT_FALSE(same_principal("alice", "alice2"));
  EXPECT_FALSE(same_principal("alice", "alic"));
  EXPECT_FALSE(same_principal("al.ice", "alice"));
  EXPECT_FALSE(same_principal("alice", ""));
}

}  // namespace
}  // namespace hoist
