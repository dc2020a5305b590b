// Output for people: server text made safe for a terminal, aligned tables
// and short forms of times. Pure functions; nothing here does I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace hoist::cli {

// `text` with everything a terminal would interpret replaced: C0 and C1
// control characters, DEL and invalid UTF-8 become "\xNN" (a tab or newline
// inside a cell too), so text chosen by someone else (a justification, a
// host name) cannot move the cursor, recolour or retitle the terminal.
std::string printable(std::string_view text);
// The same for a message of several lines (an error listing problems, the
// admin-code instructions): its newlines stay line breaks.
std::string printable_lines(std::string_view text);

// The number of terminal columns `text` takes, counting each code point as
// one (good enough for the Latin, Greek and Cyrillic text of names).
std::size_t display_width(std::string_view text);

// A plain text table: a header row, then rows, columns separated by two
// spaces and padded to the widest cell. Cells are passed through printable()
// and cut to max_width columns with "...".
class Table {
 public:
  explicit Table(std::vector<std::string> headers, std::size_t max_width = 48);
  void add_row(std::vector<std::string> cells);
  [[nodiscard]] bool empty() const { return rows_.empty(); }
  [[nodiscard]] std::string render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
  std::size_t max_width_;
};

// "2026-11-24T09:30:00Z" -> "2026-11-24 09:30:00Z"; "" stays "" and
// anything else is shown as given (through printable()).
std::string short_time(std::string_view rfc3339);

// A number of seconds as "1h30m", "45s", "0s"; negative as "0s".
std::string short_duration(long long seconds);

}  // namespace hoist::cli
