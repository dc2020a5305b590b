#include "plugin/auth_log.h"

#include <syslog.h>

namespace hoist::plugin {

// Logged text holds user-chosen argv: no control characters, so a
// newline cannot forge a second log line.
void log_auth(int priority, const std::string& text) {
  std::string line = text;
  for (char& c : line) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7F) c = '?';
  }
  ::syslog(LOG_AUTHPRIV | priority, "hoist: %s", line.c_str());
}

std::string join_command(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out.size() > 512 ? out.substr(0, 512) + "..." : out;
}

}  // namespace hoist::plugin
