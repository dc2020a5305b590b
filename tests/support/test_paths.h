// Where the tests find the repository and this build's programs. The
// paths are compiled into test_paths.cpp alone (hoist_test_paths); a
// test's own object file holds only these calls, so it does not depend on
// where the clone is, and ccache shares it between clones (a fresh CI
// clone in another folder hits what any other build put in the cache).
// Force-included into the targets that use them (hoist_use_test_paths in
// tests/CMakeLists.txt).
#pragma once

namespace hoist::test_paths {
const char* source_dir();           // the repository
const char* hoistd();               // src/server/hoistd
const char* cli();                  // src/cli/hoist
const char* agent();                // src/agent/hoist-agent
const char* sudo_so();              // hoist_sudo.so
const char* attack_probe();         // tests/attacks: the probe the real-sudo cases run
const char* attack_preload();       // ... and the attacker's library
const char* argv0_probe();          // ... and the argv[0] probe
const char* hec_receiver();         // tests/server/siem/hec_receiver.py
const char* console_audit_kinds();  // console/src/lib/audit_kinds.ts
}  // namespace hoist::test_paths

#define HOIST_SOURCE_DIR (::hoist::test_paths::source_dir())
#define HOIST_HOISTD_PATH (::hoist::test_paths::hoistd())
#define HOIST_CLI_PATH (::hoist::test_paths::cli())
#define HOIST_AGENT_PATH (::hoist::test_paths::agent())
#define HOIST_SUDO_SO (::hoist::test_paths::sudo_so())
#define HOIST_ATTACK_PROBE (::hoist::test_paths::attack_probe())
#define HOIST_ATTACK_PRELOAD (::hoist::test_paths::attack_preload())
#define HOIST_ARGV0_PROBE (::hoist::test_paths::argv0_probe())
#define HEC_RECEIVER (::hoist::test_paths::hec_receiver())
#define HOIST_CONSOLE_AUDIT_KINDS (::hoist::test_paths::console_audit_kinds())
