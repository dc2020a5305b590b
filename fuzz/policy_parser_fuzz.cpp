// libFuzzer target: the policy file parser and compiler. Any input must
// yield either a policy or diagnostics that name a line, never a crash, a
// hang or a policy that fails to compile.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

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
  const hoist::TimePoint now{std::chrono::seconds{1'800'000'000}};
  // An edit is allowed or denied, never a request, and only an edit rule
  // allows it.
  const std::vector<hoist::EditFile> files = {{"/etc/hosts", true}, {"/etc/nginx/a.conf", true}};
  const auto edit = (*compiled)->evaluate_edit(subject, files, hoist::RunAs{"postgres", "dba", "postgres"}, now, zones);
  if (edit.action == hoist::Action::kRequest) std::abort();
  if (edit.action == hoist::Action::kAllow && (edit.rule == nullptr || edit.rule->match.edit.empty())) std::abort();
  // A link under another name the user could have made is granted by no
  // rule.
  hoist::CommandLine renamed = cmd;
  renamed.exe.path = "/tmp/x/runlevel";
  renamed.exe.real_path = "/usr/bin/apt-get";
  renamed.exe.trusted_path = false;
  renamed.runas = hoist::RunAs{"daemon", "", "daemon"};
  const auto link = (*compiled)->evaluate(subject, renamed, now, zones);
  if (link.rule != nullptr && link.action != hoist::Action::kDeny) std::abort();
  return 0;
}
