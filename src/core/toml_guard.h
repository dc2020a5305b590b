// Input checks that keep toml++ 3.3.0 away from its undefined behaviour on
// some non-ASCII input, shared by every TOML parser of Hoist (policies,
// hoistd's configuration). The recipe, as parse_policy and parse_config use
// it:
//   1. toml::parse(ascii_stand_in(text)): every non-ASCII byte becomes '~',
//      which is valid inside strings and comments and invalid anywhere else,
//      so a parse error there is reported at its place (byte_offset,
//      utf8_column; kTomlNonAsciiMessage when that byte was non-ASCII);
//   2. non_ascii_outside_strings(text) must find nothing;
//   3. only then toml::parse(text).
// Nothing here includes toml++.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace hoist {

// `text` with every byte >= 0x80 replaced by '~'.
std::string ascii_stand_in(std::string_view text);

// toml++ 3.3.0 reaches __builtin_unreachable() when it asks whether some
// non-ASCII characters are whitespace (is_non_ascii_horizontal_whitespace;
// found by our fuzzer, upstream issues #190 and #295, fixed after 3.3.0).
// A parser first has toml++ parse an all-ASCII copy, which proves every
// non-ASCII byte sits inside a string or comment; this scan then finds the
// one case left in a valid document: non-ASCII as the first character after
// a line-ending backslash in a """ string, where toml++ trims whitespace.
// (It also reports non-ASCII outside strings and comments, which the ASCII
// parse has already ruled out.) Returns the 1-based line and column of the
// first offending byte.
std::optional<std::pair<int, int>> non_ascii_outside_strings(std::string_view t);

inline constexpr std::string_view kTomlNonAsciiMessage =
    "a non-ASCII character outside a \"string\" or # comment, or first after a line-ending backslash in a "
    "\"\"\" string; names and keys must be ASCII (quote other text)";

// Byte offset of (line, column) in an all-ASCII text (1-based, as toml++
// reports them); nullopt when out of range or the text is not given.
std::optional<std::size_t> byte_offset(std::string_view ascii, int line, int column);

// 1-based column, in characters, of byte `off` of a UTF-8 text.
int utf8_column(std::string_view text, std::size_t off);

}  // namespace hoist
