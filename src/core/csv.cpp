#include "core/csv.h"

#include "core/display_text.h"

namespace hoist {

namespace {

bool starts_formula(std::string_view v) {
  if (v.empty()) return false;
  switch (v.front()) {
    case '=':
    case '+':
    case '-':
    case '@':
    case '\t':
    case '\r': return true;
    default: return false;
  }
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

}  // namespace

std::string csv_field(std::string_view raw) {
  const std::string value = without_hidden_controls(raw);
  std::string text;
  text.reserve(value.size() + 1);
  if (starts_formula(value)) text += '\'';
  text += value;
  const bool quote = text.find_first_of(",\"\r\n") != std::string::npos ||
                     (!text.empty() && (is_blank(text.front()) || is_blank(text.back())));
  if (!quote) return text;
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string csv_row(std::span<const std::string> fields) {
  std::string out;
  if (fields.size() == 1 && fields.front().empty()) {
    out = "\"\"";
  } else {
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (i != 0) out += ',';
      out += csv_field(fields[i]);
    }
  }
  out += "\r\n";
  return out;
}

}  // namespace hoist
