// The floor of a sudo policy plugin, for endpoint_bench only (never
// installed): it allows /usr/bin/true at once, as root, and does nothing
// else. The time sudo takes with it is what sudo's own front end costs;
// what hoist_sudo.so and sudoers take above it is the policy's.
//
// With the plugin option `pam=SERVICE` it also opens a PAM session in
// init_session() as sudoers and hoist_sudo.so do (pam_start for the
// target user, PAM_RUSER, pam_setcred, pam_open_session; closed in
// close()): the floor of a policy plugin that keeps sudo's PAM session.
#include <security/pam_appl.h>
#include <sudo_plugin.h>

#include <cstring>
#include <string>

namespace {

// sudo reads these until the plugin's close(): static storage, never freed.
char kCommand[] = "command=/usr/bin/true";
char kUid[] = "runas_uid=0";
char kGid[] = "runas_gid=0";
char kEuid[] = "runas_euid=0";
char kEgid[] = "runas_egid=0";
char* command_info[] = {kCommand, kUid, kGid, kEuid, kEgid, nullptr};
char* const* user_env = nullptr;
std::string pam_service;
std::string user;
pam_handle_t* pam = nullptr;
bool session_open = false;

int no_conversation(int /*n*/, const pam_message** /*msg*/, pam_response** /*resp*/, void* /*data*/) {
  return PAM_CONV_ERR;
}

int floor_open(unsigned int /*version*/, sudo_conv_t /*conv*/, sudo_printf_t /*printf*/, char* const* /*settings*/,
               char* const user_info[], char* const env[], char* const options[], const char** /*errstr*/) {
  user_env = env;
  for (char* const* o = options; o != nullptr && *o != nullptr; ++o) {
    if (std::strncmp(*o, "pam=", 4) == 0) pam_service = *o + 4;
  }
  for (char* const* u = user_info; u != nullptr && *u != nullptr; ++u) {
    if (std::strncmp(*u, "user=", 5) == 0) user = *u + 5;
  }
  return 1;
}

void floor_close(int /*status*/, int /*error*/) {
  if (pam == nullptr) return;
  if (session_open) ::pam_close_session(pam, PAM_SILENT);
  ::pam_setcred(pam, PAM_DELETE_CRED | PAM_SILENT);
  ::pam_end(pam, PAM_SUCCESS);
  pam = nullptr;
}

int floor_version(int /*verbose*/) {
  return 1;
}

// Allows argv[0] as given (the bench runs `sudo -n /usr/bin/true`, an
// absolute path); anything else is refused.
int floor_check(int argc, char* const argv[], char* /*env_add*/[], char** info_out[], char** argv_out[],
                char** env_out[], const char** errstr) {
  if (argc < 1 || std::strcmp(argv[0], "/usr/bin/true") != 0) {
    *errstr = "the floor plugin runs only /usr/bin/true";
    return 0;
  }
  *info_out = command_info;
  *argv_out = const_cast<char**>(argv);
  *env_out = const_cast<char**>(user_env);
  return 1;
}

int floor_init_session(struct passwd* /*pwd*/, char** /*env_out*/[], const char** errstr) {
  if (pam_service.empty()) return 1;
  const pam_conv conv{no_conversation, nullptr};
  if (::pam_start(pam_service.c_str(), "root", &conv, &pam) != PAM_SUCCESS) {
    *errstr = "pam_start failed";
    return -1;
  }
  ::pam_set_item(pam, PAM_RUSER, user.c_str());
  if (::pam_setcred(pam, PAM_ESTABLISH_CRED) != PAM_SUCCESS || ::pam_open_session(pam, 0) != PAM_SUCCESS) {
    *errstr = "the PAM session failed";
    return -1;
  }
  session_open = true;
  return 1;
}

}  // namespace

extern "C" {
__attribute__((visibility("default"))) struct policy_plugin hoist_floor_policy = {
    SUDO_POLICY_PLUGIN,
    SUDO_API_VERSION,
    floor_open,
    floor_close,
    floor_version,
    floor_check,
    nullptr,  // list
    nullptr,  // validate
    nullptr,  // invalidate
    floor_init_session,
    nullptr,  // register_hooks
    nullptr,  // deregister_hooks
    nullptr,  // event_alloc
};
}
