// libFuzzer target: the policy file parser and compiler. Any input must
// yield either a policy or diagnostics that name a line, never a crash, a
// hang or a policy that fails to compile.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/evaluator.h"
#include "core/policy_file.h"

namespace {

class FuzzZones final : public hoist::TimeZones {
 public:
  [[nodiscard]] bool known(std::string_view zone) const override { return zone == "UTC" || zone == "Europe/Paris"; }
  [[nodiscard]] std::optional<hoist::LocalTime> local_time(std::string_view zone, hoist::TimePoint) const override {
    if (!known(zone)) return std::nullopt;
    return hoist::LocalTime{1, 600};
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const FuzzZones zones;
  auto parsed = hoist::parse_policy(text, "fuzz.toml", zones);
  if (parsed.policy.has_value() == !parsed.errors.empty()) std::abort();  // exactly one of the two
  for (const auto& e : parsed.errors) {
    if (e.message.empty()) std::abort();
  }
  if (!parsed.policy) return 0;
  auto compiled = hoist::CompiledPolicy::compile(std::move(*parsed.policy));
  if (!compiled.ok()) std::abort();  // the parser must only produce compilable policies
  hoist::Subject subject{"alice", {"staff", "oncall"}, {"laptops"}};
  hoist::CommandLine cmd;
  cmd.exe.path = "/usr/bin/apt-get";
  cmd.exe.trusted_path = true;
  cmd.exe.package = hoist::PackageFacts{"apt", "Debian", "APT Development Team", true};
  cmd.args = {"install", "vim"};
  const auto decision =
      (*compiled)->evaluate(subject, cmd, hoist::TimePoint{std::chrono::seconds{1'800'000'000}}, zones);
  if (decision.rule != nullptr && decision.rule->action != decision.action) std::abort();
  return 0;
}
