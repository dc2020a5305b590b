// PAM for the plugin, as sudoers does it: authenticate the invoking user
// (pam_authenticate + pam_acct_mgmt, with PAM_RUSER and PAM_TTY set and the
// conversation going through sudo's), and open a session for the target
// user around the command (pam_setcred + pam_open_session; pam_getenvlist
// is merged into the command's environment). The service name comes from
// the plugin options (default "sudo") so admins can give Hoist its own
// stack, MFA included.
//
// MUST: any PAM failure is a refusal (Unauthenticated/PermissionDenied),
// never a pass. MUST: pam_end is called exactly once per pam_start.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "endpoint/terminal.h"

struct pam_handle;

namespace hoist::plugin {

struct PamConfig {
  std::string service = "sudo";
  std::string confdir;  // "" = the system's; else pam_start_confdir (tests)
};

class PamSession {
 public:
  PamSession() = default;
  PamSession(const PamSession&) = delete;
  PamSession& operator=(const PamSession&) = delete;
  ~PamSession();

  // pam_start for `user` (the invoker for authentication, the target for a
  // session); the conversation must outlive this object.
  Status start(const PamConfig& config, const std::string& user, const std::string& ruser, const std::string& tty,
               endpoint::Conversation* conv);
  // pam_authenticate + pam_acct_mgmt (a new authentication token is asked
  // for when the account says it expired).
  Status authenticate();
  // pam_setcred(ESTABLISH) + pam_open_session; the PAM environment after.
  Result<std::vector<std::string>> open_session();
  // pam_close_session + pam_setcred(DELETE) when a session is open, then
  // pam_end. Safe to call twice.
  void end();
  [[nodiscard]] bool started() const { return handle_ != nullptr; }

 private:
  pam_handle* handle_ = nullptr;
  endpoint::Conversation* conv_ = nullptr;
  bool session_open_ = false;
  bool cred_established_ = false;
  int last_ = 0;
};

// Authenticates `user` (pam_start..pam_end) in one call.
Status pam_authenticate_user(const PamConfig& config, const std::string& user, const std::string& tty,
                             endpoint::Conversation& conv);

}  // namespace hoist::plugin
