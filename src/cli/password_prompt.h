// Reading a password: from the terminal without echo, or one line of
// standard input for scripts (--password-stdin).
#pragma once

#include <string>

#include "core/result.h"

namespace hoist::cli {

// Prompts on /dev/tty with echo off and restores the terminal afterwards,
// also when interrupted. InvalidArgument when there is no terminal.
Result<std::string> read_password_from_tty(const std::string& prompt);

// The first line of standard input, without its newline (at most 1 KiB).
Result<std::string> read_password_from_stdin();

}  // namespace hoist::cli
