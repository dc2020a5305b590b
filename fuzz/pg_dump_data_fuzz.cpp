// Fuzzes the COPY text that check-backup and restore read out of a
// PostgreSQL backup's dump (src/server/backup/pg_tools.h, parse_dump_data
// and facts_of): whoever can write a backup chooses the dump, and so
// pg_restore's output. Beyond "no crash": an accepted trail is in seq
// order, and the facts of one that verifies name its last event.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/backup/pg_tools.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hoist::backup::pg_tools;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto contents = parse_dump_data(input);
  if (!contents) return 0;
  for (std::size_t i = 1; i < contents->events.size(); ++i) {
    check(contents->events[i - 1].seq <= contents->events[i].seq);
  }
  auto facts = facts_of(*contents);
  if (!facts) return 0;
  check(facts->audit_events == contents->events.size());
  check(contents->events.empty() ? facts->audit_head_seq == 0 : facts->audit_head_seq == contents->events.back().seq);
  return 0;
}
