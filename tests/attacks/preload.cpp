// hoist_attack_preload: the attacker's shared library. If a loader ever
// loads it into a process (LD_PRELOAD, LD_LIBRARY_PATH reaching a root
// command), its constructor says so on stdout and stderr with the
// process's effective uid; the attack suite fails on "PAYLOAD-RAN euid=0".
#include <unistd.h>

#include <cstdio>

namespace {

__attribute__((constructor)) void hoist_attack_preload_ran() {
  char line[64];
  const int n = std::snprintf(line, sizeof line, "PAYLOAD-RAN euid=%u via=preload\n", ::geteuid());
  if (n <= 0) return;
  (void)!::write(1, line, static_cast<std::size_t>(n));
  (void)!::write(2, line, static_cast<std::size_t>(n));
}

}  // namespace
