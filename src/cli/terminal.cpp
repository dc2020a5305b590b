#include "cli/terminal.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/display_text.h"
#include "core/duration.h"

namespace hoist::cli {

std::string printable(std::string_view text) {
  return visible_text(text);
}

std::string printable_lines(std::string_view text) {
  return visible_text(text, "\n");
}

std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  for (const char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++width;
    }
  }
  return width;
}

namespace {

// The first `width` columns of (printable, valid UTF-8) `text`.
std::string cut(const std::string& text, std::size_t width) {
  if (display_width(text) <= width) {
    return text;
  }
  const std::size_t keep = width > 3 ? width - 3 : 0;
  std::size_t columns = 0;
  std::size_t i = 0;
  for (; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (columns == keep) {
        break;
      }
      ++columns;
    }
  }
  return text.substr(0, i) + "...";
}

}  // namespace

Table::Table(std::vector<std::string> headers, std::size_t max_width)
    : headers_(std::move(headers)), max_width_(std::max<std::size_t>(max_width, 4)) {}

void Table::add_row(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  for (auto& c : cells) {
    c = cut(printable(c), max_width_);
  }
  rows_.push_back(std::move(cells));
}

std::string Table::render() const {
  std::vector<std::size_t> widths(headers_.size());
  for (std::size_t c = 0; c < headers_.size(); ++c) {
    widths[c] = display_width(headers_[c]);
    for (const auto& row : rows_) {
      widths[c] = std::max(widths[c], display_width(row[c]));
    }
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      text += cells[c];
      if (c + 1 < cells.size()) {
        text.append(widths[c] - display_width(cells[c]) + 2, ' ');
      }
    }
    while (!text.empty() && text.back() == ' ') {
      text.pop_back();
    }
    out += text;
    out += '\n';
  };
  line(headers_);
  for (const auto& row : rows_) {
    line(row);
  }
  return out;
}

std::string short_time(std::string_view rfc3339) {
  std::string text = printable(rfc3339);
  if (text.size() >= 20 && text[10] == 'T') {
    text[10] = ' ';
  }
  return text;
}

std::string short_duration(long long seconds) {
  if (seconds <= 0) {
    return "0s";
  }
  // Shown to the minute above an hour: "1h30m" rather than "1h29m59s".
  if (seconds > 3600 && seconds % 60 != 0) {
    seconds = (seconds + 59) / 60 * 60;
  }
  return format_duration(Seconds{seconds});
}

}  // namespace hoist::cli
