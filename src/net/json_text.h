// Writing JSON text by hand where a JSON library would be overkill (log
// lines, error bodies). Always produces valid JSON, whatever the bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hoist::net {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is
// invalid (overlong forms, surrogates and values above U+10FFFF included).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i);

bool is_valid_utf8(std::string_view s);

// Appends value as a quoted JSON string. Invalid UTF-8 becomes U+FFFD and
// control characters are escaped, so the result is always valid JSON.
void append_json_string(std::string& out, std::string_view value);

std::string json_string(std::string_view value);

}  // namespace hoist::net
