// Fuzzes the agent protocol's frame decoder (src/ipc/frame.h), which reads
// bytes from any local process that connects to hoist-agent's socket.
// Beyond "no crash": a decoded frame is canonical, so encoding its fields
// gives back exactly the bytes it was decoded from; the typed accessors and
// message decoders fail only with InvalidArgument; a message that decodes
// encodes to the same fields again (nothing is lost or invented), for every
// message type (fuzz/corpus/ipc_frame has a seed of each); and no frame
// decodes as two types.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ipc/frame.h"
#include "ipc/messages.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto decoded = hoist::ipc::decode_frame(input);
  if (!decoded) {
    if (decoded.error().code != hoist::ErrorCode::kInvalidArgument || decoded.error().message.empty()) std::abort();
    return 0;
  }
  if (!*decoded) {
    // Incomplete: only while fewer bytes than the declared frame are there.
    if (size >= 4) {
      const std::size_t declared = (std::size_t{data[0]} << 24) | (std::size_t{data[1]} << 16) |
                                   (std::size_t{data[2]} << 8) | std::size_t{data[3]};
      if (size - 4 >= declared) std::abort();
    }
    return 0;
  }
  const auto& frame = **decoded;
  if (frame.bytes > size || frame.bytes > hoist::ipc::kMaxFrameBytes + 4) std::abort();
  auto again = hoist::ipc::encode_frame(frame.fields);
  if (!again || *again != input.substr(0, frame.bytes)) std::abort();
  const auto only_invalid_argument = [](const hoist::Error& e) {
    if (e.code != hoist::ErrorCode::kInvalidArgument || e.message.empty()) std::abort();
  };
  for (const auto& f : frame.fields.all()) {
    if (auto n = frame.fields.uint(f.key, UINT64_MAX); !n) only_invalid_argument(n.error());
    if (auto b = frame.fields.boolean(f.key); !b) only_invalid_argument(b.error());
    if (auto o = frame.fields.one(f.key); !o) only_invalid_argument(o.error());
  }
  int accepted = 0;
  const auto round_trip = [&](auto decode) {
    auto decoded = decode(frame.fields);
    if (!decoded) {
      only_invalid_argument(decoded.error());
      return;
    }
    ++accepted;
    auto back = decode(hoist::ipc::to_fields(*decoded));
    if (!back || !(*back == *decoded)) std::abort();
  };
  round_trip(hoist::ipc::check_from);
  round_trip(hoist::ipc::submit_from);
  round_trip(hoist::ipc::wait_from);
  round_trip(hoist::ipc::cancel_from);
  round_trip(hoist::ipc::decision_from);
  round_trip(hoist::ipc::request_state_from);
  round_trip(hoist::ipc::error_from);
  round_trip(hoist::ipc::list_from);
  round_trip(hoist::ipc::listing_from);
  round_trip(hoist::ipc::elevate_from);
  round_trip(hoist::ipc::exec_from);
  round_trip(hoist::ipc::self_approve_from);
  round_trip(hoist::ipc::code_challenge_from);
  round_trip(hoist::ipc::challenge_from);
  round_trip(hoist::ipc::code_redeem_from);
  round_trip(hoist::ipc::code_grant_from);
  round_trip(hoist::ipc::progress_from);
  if (accepted > 1) std::abort();
  return 0;
}
