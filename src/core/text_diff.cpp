#include "core/text_diff.h"

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

namespace hoist {

namespace {

using Index = std::ptrdiff_t;

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const auto len = nl == std::string_view::npos ? text.size() : nl + 1;
    lines.push_back(text.substr(0, len));
    text.remove_prefix(len);
  }
  return lines;
}

struct Point {
  Index x = 0;
  Index y = 0;
};

// Marks the lines of a deleted and of b inserted by a minimal edit script,
// found with the linear-space (middle snake) form of Myers' algorithm.
class Differ {
 public:
  Differ(const std::vector<int>& a, const std::vector<int>& b)
      : a_(a), b_(b), deleted_(a.size(), false), inserted_(b.size(), false) {}

  void run() { compare(0, static_cast<Index>(a_.size()), 0, static_cast<Index>(b_.size()), true); }

  [[nodiscard]] const std::vector<bool>& deleted() const { return deleted_; }
  [[nodiscard]] const std::vector<bool>& inserted() const { return inserted_; }

 private:
  void replace_all(Index x0, Index x1, Index y0, Index y1) {
    for (Index i = x0; i < x1; ++i) deleted_[i] = true;
    for (Index j = y0; j < y1; ++j) inserted_[j] = true;
  }

  // Only the outermost call needs the bound: every part of a split has a
  // smaller edit distance than the whole.
  void compare(Index x0, Index x1, Index y0, Index y1, bool bounded) {
    while (x0 < x1 && y0 < y1 && a_[x0] == b_[y0]) {
      ++x0;
      ++y0;
    }
    while (x0 < x1 && y0 < y1 && a_[x1 - 1] == b_[y1 - 1]) {
      --x1;
      --y1;
    }
    if (x0 == x1 || y0 == y1) {
      replace_all(x0, x1, y0, y1);
      return;
    }
    const auto split = middle_snake(x0, x1, y0, y1, bounded);
    // A split at either corner would recurse forever; it cannot happen once
    // the common head and tail are removed, but the fallback is still valid.
    if (!split || (split->x == x0 && split->y == y0) || (split->x == x1 && split->y == y1)) {
      replace_all(x0, x1, y0, y1);
      return;
    }
    compare(x0, split->x, y0, split->y, false);
    compare(split->x, x1, split->y, y1, false);
  }

  // A point on a minimal path through a[x0, x1) x b[y0, y1) where the
  // forward and backward searches meet (Myers 1986, section 4b), or nullopt
  // when `bounded` and the edit distance exceeds kMaxDiffEditDistance.
  std::optional<Point> middle_snake(Index x0, Index x1, Index y0, Index y1, bool bounded) {
    const Index n = x1 - x0;
    const Index m = y1 - y0;
    Index max_d = (n + m + 1) / 2;
    if (bounded) max_d = std::min(max_d, kMaxDiffEditDistance / 2 + 1);
    const Index offset = max_d;
    const Index length = 2 * max_d + 2;
    forward_.assign(length, -1);
    backward_.assign(length, -1);
    forward_[offset + 1] = 0;
    backward_[offset + 1] = 0;
    const Index delta = n - m;
    const bool odd = delta % 2 != 0;
    // Diagonals that ran off the edge of the grid are not searched again.
    Index f_start = 0;
    Index f_end = 0;
    Index b_start = 0;
    Index b_end = 0;
    for (Index d = 0; d < max_d; ++d) {
      for (Index k = -d + f_start; k <= d - f_end; k += 2) {
        const Index ko = offset + k;
        Index x =
            (k == -d || (k != d && forward_[ko - 1] < forward_[ko + 1])) ? forward_[ko + 1] : forward_[ko - 1] + 1;
        Index y = x - k;
        while (x < n && y < m && a_[x0 + x] == b_[y0 + y]) {
          ++x;
          ++y;
        }
        forward_[ko] = x;
        if (x > n) {
          f_end += 2;
        } else if (y > m) {
          f_start += 2;
        } else if (odd) {
          const Index bo = offset + delta - k;
          if (bo >= 0 && bo < length && backward_[bo] != -1 && x >= n - backward_[bo]) return Point{x0 + x, y0 + y};
        }
      }
      for (Index k = -d + b_start; k <= d - b_end; k += 2) {
        const Index ko = offset + k;
        Index x =
            (k == -d || (k != d && backward_[ko - 1] < backward_[ko + 1])) ? backward_[ko + 1] : backward_[ko - 1] + 1;
        Index y = x - k;
        while (x < n && y < m && a_[x1 - x - 1] == b_[y1 - y - 1]) {
          ++x;
          ++y;
        }
        backward_[ko] = x;
        if (x > n) {
          b_end += 2;
        } else if (y > m) {
          b_start += 2;
        } else if (!odd) {
          const Index fo = offset + delta - k;
          if (fo >= 0 && fo < length && forward_[fo] != -1) {
            const Index fx = forward_[fo];
            const Index fy = fx - (fo - offset);
            if (fx >= n - x) return Point{x0 + fx, y0 + fy};
          }
        }
      }
    }
    return std::nullopt;
  }

  const std::vector<int>& a_;
  const std::vector<int>& b_;
  std::vector<bool> deleted_;
  std::vector<bool> inserted_;
  std::vector<Index> forward_;   // furthest x reached on each diagonal, from the start
  std::vector<Index> backward_;  // the same from the end
};

// Lines deleted a[a0, a1) and inserted b[b0, b1) at one place.
struct Change {
  Index a0 = 0;
  Index a1 = 0;
  Index b0 = 0;
  Index b1 = 0;
};

std::vector<Change> changes_of(const std::vector<bool>& deleted, const std::vector<bool>& inserted) {
  const auto n = static_cast<Index>(deleted.size());
  const auto m = static_cast<Index>(inserted.size());
  std::vector<Change> out;
  Index i = 0;
  Index j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && !deleted[i] && !inserted[j]) {
      ++i;
      ++j;
      continue;
    }
    Change c{i, i, j, j};
    // Unmarked lines left over on one side only also count as changed.
    while (i < n && (deleted[i] || j == m)) ++i;
    while (j < m && (inserted[j] || i == n)) ++j;
    c.a1 = i;
    c.b1 = j;
    out.push_back(c);
  }
  return out;
}

// "start,count" of a hunk header; an empty range names the line before it.
std::string range(Index start, Index count) {
  if (count == 1) return fmt::format("{}", start + 1);
  return fmt::format("{},{}", count == 0 ? start : start + 1, count);
}

void append_label(std::string& out, std::string_view prefix, std::string_view label) {
  out += prefix;
  for (const char c : label) out += (c == '\n' || c == '\r') ? ' ' : c;
  out += '\n';
}

void append_line(std::string& out, char tag, std::string_view line) {
  out += tag;
  out += line;
  if (line.empty() || line.back() != '\n') out += "\n\\ No newline at end of file\n";
}

}  // namespace

std::string unified_diff(std::string_view old_text, std::string_view new_text, std::string_view old_label,
                         std::string_view new_label, int context) {
  if (old_text == new_text) return {};
  const auto a = split_lines(old_text);
  const auto b = split_lines(new_text);

  std::unordered_map<std::string_view, int> ids;
  const auto intern = [&ids](const std::vector<std::string_view>& lines) {
    std::vector<int> out;
    out.reserve(lines.size());
    for (const auto line : lines) out.push_back(ids.try_emplace(line, static_cast<int>(ids.size())).first->second);
    return out;
  };
  const auto ia = intern(a);
  const auto ib = intern(b);
  Differ differ(ia, ib);
  differ.run();
  const auto changes = changes_of(differ.deleted(), differ.inserted());

  const Index ctx = std::max(context, 0);
  const auto n = static_cast<Index>(a.size());
  std::string out;
  append_label(out, "--- ", old_label);
  append_label(out, "+++ ", new_label);
  for (std::size_t first = 0; first < changes.size();) {
    std::size_t last = first;
    while (last + 1 < changes.size() && changes[last + 1].a0 - changes[last].a1 <= 2 * ctx) ++last;
    const Index before = std::min(ctx, changes[first].a0 - (first == 0 ? 0 : changes[first - 1].a1));
    const Index after = std::min(ctx, (last + 1 < changes.size() ? changes[last + 1].a0 : n) - changes[last].a1);
    const Index a_start = changes[first].a0 - before;
    const Index b_start = changes[first].b0 - before;
    const Index a_end = changes[last].a1 + after;
    const Index b_end = changes[last].b1 + after;
    out += fmt::format("@@ -{} +{} @@\n", range(a_start, a_end - a_start), range(b_start, b_end - b_start));
    Index i = a_start;
    for (std::size_t c = first; c <= last; ++c) {
      const Change& ch = changes[c];
      for (; i < ch.a0; ++i) append_line(out, ' ', a[i]);
      for (Index k = ch.a0; k < ch.a1; ++k) append_line(out, '-', a[k]);
      for (Index k = ch.b0; k < ch.b1; ++k) append_line(out, '+', b[k]);
      i = ch.a1;
    }
    for (; i < a_end; ++i) append_line(out, ' ', a[i]);
    first = last + 1;
  }
  return out;
}

}  // namespace hoist
