// The wire format between hoist_sudo.so (and the `hoist` CLI) and
// hoist-agent over the agent's Unix socket: one request frame, one reply
// frame. Pure encoding and decoding; the sockets are elsewhere.
//
//   frame  = length:u32 (big-endian, of what follows) field*
//   field  = key_length:u8 key value_length:u32 value
//
// Keys are 1-32 bytes of [a-z0-9_]; values are any bytes (argv need not be
// UTF-8). A key may repeat (argv, groups): order is kept. A frame is at most
// kMaxFrameBytes, so a hostile peer cannot make the other side allocate
// more. Every frame carries "v" (the protocol version) and "type" first; the
// typed messages in ipc/messages.h are built on these fields.
//
// MUST: decoding never reads past the buffer, never allocates more than the
// frame's declared size, and refuses (InvalidArgument, saying what is wrong)
// anything not exactly of this shape, trailing bytes included.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace hoist::ipc {

inline constexpr std::uint32_t kProtocolVersion = 1;
// Where hoist-agent listens unless configured otherwise (the plugin's
// agent_socket=, the CLI's --socket, the agent's own setting).
inline constexpr std::string_view kDefaultAgentSocket = "/run/hoist/agent.sock";
inline constexpr std::size_t kMaxFrameBytes = std::size_t{256} << 10;
inline constexpr std::size_t kMaxKeyBytes = 32;
inline constexpr std::size_t kMaxFields = 8192;

struct Field {
  std::string key;
  std::string value;
  friend bool operator==(const Field&, const Field&) = default;
};

// An ordered list of fields with typed accessors. Accessors that read fail
// with InvalidArgument naming the key.
class Fields {
 public:
  Fields() = default;
  explicit Fields(std::vector<Field> fields) : fields_(std::move(fields)) {}

  Fields& add(std::string key, std::string value);
  Fields& add_uint(std::string key, std::uint64_t value);
  Fields& add_bool(std::string key, bool value);  // "1" / "0"
  Fields& add_all(const std::string& key, const std::vector<std::string>& values);

  [[nodiscard]] const std::vector<Field>& all() const { return fields_; }
  [[nodiscard]] std::size_t size() const { return fields_.size(); }
  friend bool operator==(const Fields&, const Fields&) = default;

  // How often `key` occurs.
  [[nodiscard]] std::size_t count(std::string_view key) const;
  // The value of a key that must occur exactly once.
  [[nodiscard]] Result<std::string> one(std::string_view key) const;
  // The value of a key that may occur at most once.
  [[nodiscard]] Result<std::optional<std::string>> optional(std::string_view key) const;
  // Every value of `key`, in order.
  [[nodiscard]] std::vector<std::string> every(std::string_view key) const;
  // A decimal number without sign or leading zeros, at most `max`.
  [[nodiscard]] Result<std::uint64_t> uint(std::string_view key, std::uint64_t max) const;
  [[nodiscard]] Result<std::optional<std::uint64_t>> optional_uint(std::string_view key, std::uint64_t max) const;
  // "1" or "0"; absent is `absent`.
  [[nodiscard]] Result<bool> boolean(std::string_view key, bool absent = false) const;
  // Fails naming the first key not in `known` (a peer of the same version
  // never sends one, so it is a bug or an attack, not an extension).
  [[nodiscard]] Status only(std::span<const std::string_view> known) const;
  [[nodiscard]] Status only(std::initializer_list<std::string_view> known) const {
    return only(std::span(known.begin(), known.size()));
  }

 private:
  std::vector<Field> fields_;
};

// A key as the format allows it.
bool valid_key(std::string_view key);

// The frame for `fields`. InvalidArgument for a bad key, too many fields or
// a frame larger than kMaxFrameBytes (the message says which).
Result<std::string> encode_frame(const Fields& fields);

// Reads one frame from the front of `buffer`: nullopt while the buffer
// holds less than a whole frame (read more and call again); otherwise the
// fields and the number of bytes the frame took. InvalidArgument for a
// frame that can never be valid (declared size over the limit, a bad key,
// a field running past the frame's end) as soon as that can be seen.
struct DecodedFrame {
  Fields fields;
  std::size_t bytes = 0;
};
Result<std::optional<DecodedFrame>> decode_frame(std::string_view buffer);

}  // namespace hoist::ipc
