// Fuzzes the sudo plugin's adapter layer (src/plugin): sudo's key=value
// arrays, the mode mapping, the environment policy and command_info, over
// what an invoker controls (argv, the environment, the options typed).
//
// Input: up to six sections separated by '\x01' (settings, user_info,
// user_env, argv, env_add, plugin_options), entries separated by '\n',
// each handed over as a NULL-terminated C array as sudo does.
// Beyond "no crash": failures are InvalidArgument, PermissionDenied or
// Unavailable with a message; an accepted invocation always yields a
// context the agent protocol decodes again, an argv_out, an environment
// whose PATH is the secure path and whose kept variables hold no "()", and
// a NULL-terminated command_info that starts with command= and has
// closefrom=3.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/messages.h"
#include "plugin/command_info.h"
#include "plugin/env_policy.h"
#include "plugin/run_mode.h"
#include "plugin/sudo_args.h"

namespace {

using hoist::Error;
using hoist::ErrorCode;
namespace plugin = hoist::plugin;

class Array {
 public:
  explicit Array(std::string_view section) {
    std::size_t pos = 0;
    while (!section.empty() && pos <= section.size()) {
      const std::size_t end = std::min(section.find('\n', pos), section.size());
      strings_.emplace_back(section.substr(pos, end - pos));
      pos = end + 1;
    }
    for (auto& s : strings_) pointers_.push_back(s.data());
    pointers_.push_back(nullptr);
  }
  char* const* data() const { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
};

void expected_failure(const Error& e) {
  const bool known = e.code == ErrorCode::kInvalidArgument || e.code == ErrorCode::kPermissionDenied ||
                     e.code == ErrorCode::kUnavailable;
  if (!known || e.message.empty()) std::abort();
}

void check_c_array(plugin::CStringArray& a) {
  if (a.data()[a.size()] != nullptr) std::abort();
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a.data()[i] == nullptr || std::string_view(a.data()[i]) != a.strings()[i]) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> sections;
  std::size_t pos = 0;
  while (pos <= input.size() && sections.size() < 6) {
    const std::size_t end = std::min(input.find('\x01', pos), input.size());
    sections.push_back(input.substr(pos, end - pos));
    pos = end + 1;
  }
  sections.resize(6);
  const Array settings_array(sections[0]), user_info_array(sections[1]), env_array(sections[2]),
      argv_array(sections[3]), env_add_array(sections[4]), options_array(sections[5]);

  if (auto o = plugin::parse_plugin_options(options_array.data()); !o) expected_failure(o.error());
  auto settings = plugin::parse_settings(settings_array.data());
  auto user = plugin::parse_user_info(user_info_array.data());
  auto env = plugin::parse_user_env(env_array.data());
  auto env_add = plugin::parse_env_add(env_add_array.data());
  auto argv = plugin::read_array(argv_array.data(), "argv");
  for (const Error* e :
       {settings ? nullptr : &settings.error(), user ? nullptr : &user.error(), env ? nullptr : &env.error(),
        env_add ? nullptr : &env_add.error(), argv ? nullptr : &argv.error()}) {
    if (e != nullptr) {
      expected_failure(*e);
      return 0;
    }
  }
  if (auto list = plugin::plan_list(*settings, *argv); !list) expected_failure(list.error());

  plugin::TargetUser target;
  target.name = "root";
  target.home = "/root";
  target.shell = env->empty() ? "" : env->front().value;  // also relative and odd shells
  target.groups = user->groups;
  auto plan = plugin::plan_check_policy(*settings, *argv, target, *env);
  if (!plan) {
    expected_failure(plan.error());
    return 0;
  }
  if (plan->command.empty()) std::abort();
  const std::string resolved = "/usr/bin/resolved";
  auto context = plugin::make_context(*user, *settings, *plan, resolved);
  if (!context) std::abort();
  auto decoded = hoist::ipc::check_from(hoist::ipc::to_fields(hoist::ipc::CheckMessage{*context}));
  if (!decoded || !(decoded->context == *context)) std::abort();
  auto exec = plugin::exec_argv(*plan);
  if (!exec || exec->empty()) std::abort();
  auto exec_array = plugin::make_c_string_array(*exec);
  if (!exec_array) std::abort();
  check_c_array(*exec_array);

  plugin::EnvRequest request;
  request.preserve_environment = settings->preserve_environment;
  request.allow_preserve_environment = !argv->empty() && argv->front().size() % 2 == 0;
  request.invoking_user = user->user;
  request.invoking_uid = user->uid;
  request.invoking_gid = user->gid;
  request.target = target;
  request.command = resolved;
  request.args.assign(exec->begin() + 1, exec->end());
  auto environment = plugin::build_environment(request, *env, *env_add);
  if (!environment) {
    expected_failure(environment.error());
  } else {
    bool path_seen = false;
    for (const auto& entry : *environment) {
      const auto eq = entry.find('=');
      if (eq == std::string::npos || !plugin::valid_env_name(entry.substr(0, eq))) std::abort();
      const auto name = std::string_view(entry).substr(0, eq);
      const auto value = std::string_view(entry).substr(eq + 1);
      if (name == "PATH") path_seen = value == plugin::kDefaultSecurePath;
      const bool from_hoist = name == "SUDO_COMMAND" || name == "SUDO_USER" || name == "SHELL";
      if (!from_hoist && value.find("()") != std::string_view::npos) std::abort();
    }
    if (!path_seen) std::abort();
  }

  auto spec = plugin::make_command_spec(*plan, *user, target, resolved);
  if (!spec) std::abort();
  spec->execfd = 5;
  spec->timeout_s = size;
  spec->recording = spec->sudoedit ? plugin::Recording::kNone : plugin::Recording::kIntercept;
  auto info = plugin::build_command_info(*spec, plugin::kSudoApi_1_21);
  if (!info) std::abort();  // every field of this spec is in range
  check_c_array(*info);
  if (info->strings().empty() || info->strings().front().rfind("command=/", 0) != 0) std::abort();
  bool closefrom = false;
  for (const auto& s : info->strings()) closefrom = closefrom || s == "closefrom=3";
  if (!closefrom) std::abort();
  return 0;
}
