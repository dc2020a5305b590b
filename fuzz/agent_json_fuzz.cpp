// Fuzzes what hoist-agent reads from hoistd: requests, answers to
// submissions, policies, push pages, enrolment and event acknowledgements.
// Checks: no crash, no UB, every refusal is InvalidArgument with a message,
// and what is accepted holds what the agent relies on.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/server_json.h"

namespace {

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

template <class R>
void refusal_is_clear(const R& r) {
  if (!r) {
    check(r.error().code == hoist::ErrorCode::kInvalidArgument);
    check(!r.error().message.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace hoist::agent;
  refusal_is_clear(server_request_from_json(text));
  auto outcome = submit_outcome_from_json(text);
  refusal_is_clear(outcome);
  if (outcome && outcome->decision == hoist::Action::kRequest) {
    check(outcome->request.has_value());
  }
  refusal_is_clear(policy_fetch_from_json(text));
  auto page = push_page_from_json(text, 7);
  refusal_is_clear(page);
  if (page) {
    check(page->cursor >= 7);
    for (const auto& m : page->messages) {
      check(m.seq > 0 && m.seq <= page->cursor);
    }
  }
  refusal_is_clear(enrolment_from_json(text));
  refusal_is_clear(codes_key_from_json(text));
  refusal_is_clear(acknowledged_from_json(text));
  return 0;
}
