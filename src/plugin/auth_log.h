// The plugin's lines in the authpriv syslog (where sudoers logs too).
#pragma once

#include <string>
#include <vector>

namespace hoist::plugin {

// Logs "hoist: TEXT" at LOG_AUTHPRIV | priority. Logged text holds
// user-chosen argv: control characters become '?', so a newline cannot
// forge a second log line.
void log_auth(int priority, const std::string& text);

// argv joined by spaces, at most 512 bytes (then "...").
std::string join_command(const std::vector<std::string>& argv);

}  // namespace hoist::plugin
