// Text that came from other people (a command line, a justification, a
// reviewer's comment, a file name), made safe to show to a person: on a
// terminal, or in a spreadsheet cell. Pure.
//
// MUST: nothing shown can move the cursor, change colours, clear the screen
// or make text read in another order than it is stored: C0 controls, DEL,
// C1 controls (U+0080..U+009F, which some terminals obey), invalid UTF-8,
// and the Unicode controls that reorder or hide text (bidi embeddings,
// overrides and isolates, marks, zero-width characters, the BOM) are shown
// escaped, never passed on. Escapes keep the data readable: bytes as
// \xNN, code points as \u{XXXX}.
#pragma once

#include <string>
#include <string_view>

namespace hoist {

// True for the code points that reorder or hide the text around them, or
// show as nothing: Unicode's Default_Ignorable_Code_Point (bidi controls,
// zero-width characters, variation selectors, fillers, tags, the BOM),
// U+2028/U+2029 and U+FFF9..U+FFFB.
bool is_hidden_or_reordering(char32_t cp);

// `text` with every character above escaped; the ASCII controls listed in
// `keep` (say "\n\t" for several lines) are passed on as they are.
std::string visible_text(std::string_view text, std::string_view keep = "");

// `text` as valid UTF-8 of at most `max_bytes`: every invalid sequence
// replaced by U+FFFD, and cut on a character boundary.
std::string valid_utf8(std::string_view text, std::size_t max_bytes);

// True when `text` is valid UTF-8.
bool is_valid_utf8(std::string_view text);

// The length of valid UTF-8 `text` in UTF-16 code units (what JavaScript's
// length counts): one per character, two above U+FFFF. Never fewer than
// its characters, so a limit "in characters" holds whichever way a
// receiver counts. An invalid byte counts one.
std::size_t utf16_length(std::string_view text);

// Valid UTF-8 `text` cut to at most `max_units` UTF-16 code units, never
// inside a character: when it is longer, the characters that fit with
// `marker` after them, then `marker` (only the characters that fit when
// even the marker does not). Invalid UTF-8 is cut between bytes: make it
// valid first (valid_utf8, visible_text).
std::string cut_text(std::string_view text, std::size_t max_units,
                     std::string_view marker = "\xE2\x80\xA6");  // U+2026, the ellipsis

// Only the characters that reorder or hide text and the C1 controls
// escaped, every other byte as it is (for data formats such as CSV, where
// C0 controls are the format's to quote).
std::string without_hidden_controls(std::string_view text);

}  // namespace hoist
