// Line diffs of two texts in the unified format of `diff -u`, for showing
// what a policy change does (console, CLI, audit). Pure.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hoist {

// Above this many inserted plus deleted lines (counted after the common
// head and tail are set aside) the diff stops looking for common lines and
// shows everything between that head and tail as replaced. Myers' algorithm
// takes time that grows with the square of the edit distance: at this bound
// a second or two at worst (release build, a million lines), not hours.
inline constexpr std::ptrdiff_t kMaxDiffEditDistance = 10000;

// The unified diff from old_text to new_text, or "" when they are equal.
// Lines end at '\n', which belongs to the line: "a" and "a\n" differ, and a
// last line without one is followed by "\ No newline at end of file"; "\r"
// is part of the line's text and kept. The labels follow "--- " and "+++ "
// (CR and LF in them become spaces). `context` unchanged lines (negative
// counts as 0) surround each change; changes at most 2 * context unchanged
// lines apart share a hunk. The edit script is a minimal one (Myers' O(ND)
// algorithm); where several are minimal the one chosen may differ from GNU
// diff's, but every one applies with `patch`.
std::string unified_diff(std::string_view old_text, std::string_view new_text, std::string_view old_label,
                         std::string_view new_label, int context = 3);

}  // namespace hoist
