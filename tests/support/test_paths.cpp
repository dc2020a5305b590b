// The only test translation unit with the clone's and the build's paths in
// it (test_paths.h says why).
#include "support/test_paths.h"

namespace hoist::test_paths {

const char* source_dir() {
  return HOIST_PATH_SOURCE_DIR;
}
const char* hoistd() {
  return HOIST_PATH_HOISTD;
}
const char* cli() {
  return HOIST_PATH_CLI;
}
const char* agent() {
  return HOIST_PATH_AGENT;
}
const char* sudo_so() {
  return HOIST_PATH_SUDO_SO;
}
const char* attack_probe() {
  return HOIST_PATH_ATTACK_PROBE;
}
const char* attack_preload() {
  return HOIST_PATH_ATTACK_PRELOAD;
}
const char* argv0_probe() {
  return HOIST_PATH_ARGV0_PROBE;
}
const char* hec_receiver() {
  return HOIST_PATH_SOURCE_DIR "/tests/server/siem/hec_receiver.py";
}
const char* console_audit_kinds() {
  return HOIST_PATH_SOURCE_DIR "/console/src/lib/audit_kinds.ts";
}

}  // namespace hoist::test_paths
