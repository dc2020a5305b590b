// Fuzzes install-plugin's reading of /etc/sudo.conf (src/agent/sudo_conf.h).
// Checks: no crash, no UB; every refusal is InvalidArgument with a message;
// what is accepted can be switched to Hoist and back: the installed text
// loads exactly Hoist's line, installing twice changes nothing, and
// uninstalling leaves no policy line and every other byte as it was.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/sudo_conf.h"

namespace {

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

// The text with the lines of plugin `p` cut out.
std::string without_lines(std::string_view text, std::size_t first, std::size_t last) {
  std::string out;
  std::size_t line = 1;
  for (std::size_t pos = 0; pos < text.size(); ++line) {
    auto nl = text.find('\n', pos);
    const std::size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    if (line < first || line > last) out.append(text.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hoist::agent;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto conf = parse_sudo_conf(text);
  if (!conf) {
    check(conf.error().code == hoist::ErrorCode::kInvalidArgument);
    check(!conf.error().message.empty());
    check(!with_hoist_policy(text, {"/usr/lib/hoist/hoist_sudo.so", {}}));
    check(!without_hoist_policy(text));
    return 0;
  }
  for (const auto& p : conf->plugins) {
    check(p.first_line >= 1 && p.first_line <= p.last_line);
    check(!p.symbol.empty() && !p.path.empty());
  }

  const HoistPluginLine line{"/usr/lib/hoist/hoist_sudo.so", {"agent_socket=/run/hoist/agent.sock"}};
  auto installed = with_hoist_policy(text, line);
  check(installed.ok());
  auto reread = parse_sudo_conf(installed->text);
  check(reread.ok() && reread->loads_hoist());
  check(reread->policy()->path == line.plugin_path && reread->policy()->options == line.options);
  check(reread->plugins.size() == conf->plugins.size() + (conf->policy() == nullptr ? 1 : 0));
  auto twice = with_hoist_policy(installed->text, line);
  check(twice.ok() && !twice->changed && twice->text == installed->text);

  auto removed = without_hoist_policy(installed->text);
  check(removed.ok() && removed->changed);
  auto after = parse_sudo_conf(removed->text);
  check(after.ok() && after->policy() == nullptr);
  // Every line but the policy line is the input's, byte for byte.
  if (const auto* p = conf->policy()) {
    std::string expected = without_lines(text, p->first_line, p->last_line);
    check(removed->text == expected);
  } else {
    check(removed->text.starts_with(text));
  }

  auto uninstalled = without_hoist_policy(text);
  check(uninstalled.ok());
  check(uninstalled->changed == conf->loads_hoist());
  return 0;
}
