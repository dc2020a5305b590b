// What a rule's command criteria cover, in the words `hoist status` shows a
// user (as `sudo -l` lists commands, not rule names). Pure.
//
//   /usr/bin/id                      a path, any arguments
//   /usr/bin/apt-get check           a path with its arguments
//   /usr/bin/ls ""                   a path with no arguments
//   /opt/tools/... (anything in it)  a folder
//   a program of package apt         package, origin, maintainer
//   the file with SHA-256 ba7816bf8f01...
//   any command
//
// Text from the policy is passed on as it is; the caller makes it safe to
// show (visible_text) and bounds its length.
#pragma once

#include <string>

#include "core/policy.h"

namespace hoist {

std::string command_summary(const CommandMatch& match);

}  // namespace hoist
