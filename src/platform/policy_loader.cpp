#include "platform/policy_loader.h"

#include "platform/read_file.h"

namespace hoist::platform {

LoadedPolicy load_policy_file(const std::string& path, const TimeZones& zones) {
  LoadedPolicy out;
  auto text = read_small_file(path, kMaxPolicyBytes);
  if (!text.ok()) {
    // read_small_file names the path itself; the diagnostic already does.
    std::string message = text.error().message;
    if (message.rfind(path + ": ", 0) == 0) message.erase(0, path.size() + 2);
    out.errors.push_back({path, 0, 0, "", std::move(message)});
    out.error_code = text.error().code;
    return out;
  }
  auto parsed = parse_policy(*text, path, zones);
  if (!parsed.policy) {
    out.errors = std::move(parsed.errors);
    return out;
  }
  auto compiled = CompiledPolicy::compile(std::move(*parsed.policy));
  if (!compiled.ok()) {
    out.errors.push_back({path, 0, 0, "", compiled.error().message});
    out.error_code = compiled.error().code;
    return out;
  }
  out.policy = std::move(*compiled);
  return out;
}

}  // namespace hoist::platform
