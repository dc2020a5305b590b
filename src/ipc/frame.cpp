#include "ipc/frame.h"

#include <fmt/format.h>

namespace hoist::ipc {

namespace {

void put_u32(std::string& out, std::uint32_t v) {
  out += static_cast<char>((v >> 24) & 0xFF);
  out += static_cast<char>((v >> 16) & 0xFF);
  out += static_cast<char>((v >> 8) & 0xFF);
  out += static_cast<char>(v & 0xFF);
}

std::uint32_t get_u32(std::string_view in, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(in[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(in[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(in[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(in[at + 3]));
}

// What a peer is shown of a key it sent: printable ASCII or escapes.
std::string shown(std::string_view key) {
  std::string out;
  for (const char c : key) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7F && c != '"' && c != '\\') {
      out += c;
    } else {
      out += fmt::format("\\x{:02x}", b);
    }
  }
  return out;
}

Result<std::uint64_t> parse_uint(std::string_view key, std::string_view text, std::uint64_t max) {
  bool ok = !text.empty() && text.size() <= 20 && text.find_first_not_of("0123456789") == std::string::npos &&
            (text.size() == 1 || text[0] != '0');
  std::uint64_t v = 0;
  for (std::size_t i = 0; ok && i < text.size(); ++i) {
    const auto d = static_cast<std::uint64_t>(text[i] - '0');
    ok = v <= (UINT64_MAX - d) / 10;  // no overflow
    v = ok ? v * 10 + d : v;
  }
  if (!ok || v > max) {
    return invalid_argument(fmt::format("field \"{}\" must be a whole number from 0 to {}", key, max));
  }
  return v;
}

}  // namespace

bool valid_key(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyBytes) {
    return false;
  }
  for (const char c : key) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

Fields& Fields::add(std::string key, std::string value) {
  fields_.push_back({std::move(key), std::move(value)});
  return *this;
}

Fields& Fields::add_uint(std::string key, std::uint64_t value) {
  return add(std::move(key), std::to_string(value));
}

Fields& Fields::add_bool(std::string key, bool value) {
  return add(std::move(key), value ? "1" : "0");
}

Fields& Fields::add_all(const std::string& key, const std::vector<std::string>& values) {
  for (const auto& v : values) {
    add(key, v);
  }
  return *this;
}

std::size_t Fields::count(std::string_view key) const {
  std::size_t n = 0;
  for (const auto& f : fields_) {
    n += f.key == key ? 1 : 0;
  }
  return n;
}

Result<std::string> Fields::one(std::string_view key) const {
  auto v = optional(key);
  if (!v) {
    return v.error();
  }
  if (!*v) {
    return invalid_argument(fmt::format("field \"{}\" is missing", key));
  }
  return std::move(**v);
}

Result<std::optional<std::string>> Fields::optional(std::string_view key) const {
  const Field* found = nullptr;
  for (const auto& f : fields_) {
    if (f.key == key) {
      if (found != nullptr) {
        return invalid_argument(fmt::format("field \"{}\" is repeated", key));
      }
      found = &f;
    }
  }
  if (found == nullptr) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(found->value);
}

std::vector<std::string> Fields::every(std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& f : fields_) {
    if (f.key == key) {
      out.push_back(f.value);
    }
  }
  return out;
}

Result<std::uint64_t> Fields::uint(std::string_view key, std::uint64_t max) const {
  auto text = one(key);
  if (!text) {
    return text.error();
  }
  return parse_uint(key, *text, max);
}

Result<std::optional<std::uint64_t>> Fields::optional_uint(std::string_view key, std::uint64_t max) const {
  auto text = optional(key);
  if (!text) {
    return text.error();
  }
  if (!*text) {
    return std::optional<std::uint64_t>();
  }
  auto v = parse_uint(key, **text, max);
  if (!v) {
    return v.error();
  }
  return std::optional<std::uint64_t>(*v);
}

Result<bool> Fields::boolean(std::string_view key, bool absent) const {
  auto text = optional(key);
  if (!text) {
    return text.error();
  }
  if (!*text) {
    return absent;
  }
  if (**text != "0" && **text != "1") {
    return invalid_argument(fmt::format("field \"{}\" must be 0 or 1", key));
  }
  return **text == "1";
}

Status Fields::only(std::span<const std::string_view> known) const {
  for (const auto& f : fields_) {
    bool ok = false;
    for (const auto k : known) {
      ok = ok || f.key == k;
    }
    if (!ok) {
      return invalid_argument(fmt::format("unknown field \"{}\"", shown(f.key)));
    }
  }
  return {};
}

Result<std::string> encode_frame(const Fields& fields) {
  if (fields.size() > kMaxFields) {
    return invalid_argument(fmt::format("a message has at most {} fields", kMaxFields));
  }
  std::size_t total = 0;
  for (const auto& f : fields.all()) {
    if (!valid_key(f.key)) {
      return invalid_argument(fmt::format("\"{}\" is not a valid field name", shown(f.key)));
    }
    total += 1 + f.key.size() + 4 + f.value.size();
    if (total > kMaxFrameBytes) {
      return invalid_argument(fmt::format("the message is larger than {} KiB", kMaxFrameBytes >> 10));
    }
  }
  std::string out;
  out.reserve(4 + total);
  put_u32(out, static_cast<std::uint32_t>(total));
  for (const auto& f : fields.all()) {
    out += static_cast<char>(f.key.size());
    out += f.key;
    put_u32(out, static_cast<std::uint32_t>(f.value.size()));
    out += f.value;
  }
  return out;
}

Result<std::optional<DecodedFrame>> decode_frame(std::string_view buffer) {
  if (buffer.size() < 4) {
    return std::optional<DecodedFrame>();
  }
  const std::uint32_t length = get_u32(buffer, 0);
  if (length > kMaxFrameBytes) {
    return invalid_argument(fmt::format("a frame of {} bytes is over the limit of {}", length, kMaxFrameBytes));
  }
  if (buffer.size() - 4 < length) {
    return std::optional<DecodedFrame>();
  }
  const std::string_view body = buffer.substr(4, length);
  std::vector<Field> fields;
  std::size_t at = 0;
  while (at < body.size()) {
    if (fields.size() == kMaxFields) {
      return invalid_argument(fmt::format("a frame has at most {} fields", kMaxFields));
    }
    const std::size_t key_length = static_cast<unsigned char>(body[at]);
    ++at;
    if (key_length > body.size() - at) {
      return invalid_argument("a field name runs past the end of the frame");
    }
    const std::string_view key = body.substr(at, key_length);
    if (!valid_key(key)) {
      return invalid_argument(fmt::format("\"{}\" is not a valid field name", shown(key)));
    }
    at += key_length;
    if (body.size() - at < 4) {
      return invalid_argument(fmt::format("field \"{}\" has no length", key));
    }
    const std::uint32_t value_length = get_u32(body, at);
    at += 4;
    if (value_length > body.size() - at) {
      return invalid_argument(fmt::format("field \"{}\" runs past the end of the frame", key));
    }
    fields.push_back({std::string(key), std::string(body.substr(at, value_length))});
    at += value_length;
  }
  return std::optional<DecodedFrame>(DecodedFrame{Fields(std::move(fields)), 4 + std::size_t{length}});
}

}  // namespace hoist::ipc
