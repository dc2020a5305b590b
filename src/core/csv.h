// CSV (RFC 4180) for exporting audit reports to spreadsheets. Pure.
//
// MUST: a field never starts with a character a spreadsheet reads as the
// start of a formula. Following OWASP's "CSV Injection" guidance, a value
// that begins with '=', '+', '-', '@', TAB or CR gets a single quote (')
// put in front of it inside the field, so "=HYPERLINK(...)" in a command
// line is shown as text, not run. MUST: no cell reads in another order than
// its bytes: the characters that reorder or hide text (bidi overrides such
// as U+202E, zero-width characters) and C1 controls are written escaped,
// as \u{202E} (core/display_text.h). These are the only changes made to the
// data: every other byte, invalid UTF-8 and NUL included, is written as it
// is. (A value such as "-5" is therefore exported as "'-5".)
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace hoist {

// One field: neutralised as above, then enclosed in double quotes (inner
// quotes doubled) when it contains a comma, a double quote, CR or LF, or
// begins or ends with a space or TAB (which some readers would trim).
std::string csv_field(std::string_view value);

// The fields, each through csv_field, separated by commas and ended by CRLF.
// A row of one empty field is written as "" so that readers do not skip it
// as a blank line; no fields at all give just CRLF.
std::string csv_row(std::span<const std::string> fields);

}  // namespace hoist
