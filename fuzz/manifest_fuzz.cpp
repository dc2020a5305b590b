// Fuzzes a backup's manifest.json as check-backup and restore read it
// (src/server/backup/manifest.h): whoever can write a backup writes it.
// Beyond "no crash": every path of an accepted manifest is a plain
// relative one (a restore never writes outside its target), directories
// come before what they hold, and writing it out and reading it back gives
// the same manifest.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "server/backup/manifest.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hoist::backup;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto m = parse_manifest(input);
  if (!m) return 0;
  std::set<std::string> directories;
  for (const auto& e : m->entries) {
    check(check_relative_path(e.path).ok());
    const auto slash = e.path.rfind('/');
    check(slash == std::string::npos || directories.count(e.path.substr(0, slash)) == 1);
    check((e.mode & ~0777U) == 0);
    if (e.directory) directories.insert(e.path);
  }
  check(check_relative_path(m->database.path).ok());
  auto again = parse_manifest(to_json(*m));
  check(again.ok() && *again == *m);
  return 0;
}
