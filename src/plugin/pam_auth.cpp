#include "plugin/pam_auth.h"

#include <security/pam_appl.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace hoist::plugin {

namespace {

// PAM's conversation over ours. Replies are malloc'd: PAM frees them.
int converse(int num_msg, const pam_message** msg, pam_response** resp, void* appdata) {
  if (num_msg <= 0 || num_msg > PAM_MAX_NUM_MSG || appdata == nullptr) return PAM_CONV_ERR;
  auto* conv = static_cast<endpoint::Conversation*>(appdata);
  auto* replies = static_cast<pam_response*>(std::calloc(static_cast<std::size_t>(num_msg), sizeof(pam_response)));
  if (replies == nullptr) return PAM_BUF_ERR;
  auto fail = [&] {
    for (int i = 0; i < num_msg; ++i) {
      if (replies[i].resp != nullptr) {
        explicit_bzero(replies[i].resp, std::strlen(replies[i].resp));
        std::free(replies[i].resp);
      }
    }
    std::free(replies);
    return PAM_CONV_ERR;
  };
  try {
    for (int i = 0; i < num_msg; ++i) {
      const char* text = msg[i]->msg != nullptr ? msg[i]->msg : "";
      switch (msg[i]->msg_style) {
        case PAM_PROMPT_ECHO_OFF:
        case PAM_PROMPT_ECHO_ON: {
          auto answer = conv->prompt(text, msg[i]->msg_style == PAM_PROMPT_ECHO_ON);
          if (!answer) return fail();
          replies[i].resp = ::strdup(answer->c_str());
          explicit_bzero(answer->data(), answer->size());
          if (replies[i].resp == nullptr) return fail();
          break;
        }
        case PAM_ERROR_MSG: conv->error(text); break;
        case PAM_TEXT_INFO: conv->info(text); break;
        default: return fail();
      }
    }
  } catch (...) {
    return fail();
  }
  *resp = replies;
  return PAM_SUCCESS;
}

}  // namespace

PamSession::~PamSession() {
  end();
}

Status PamSession::start(const PamConfig& config, const std::string& user, const std::string& ruser,
                         const std::string& tty, endpoint::Conversation* conv) {
  if (handle_ != nullptr) return internal_error("PAM was started twice (this is a bug)");
  conv_ = conv;
  const pam_conv pc{converse, conv_};
  int rc = 0;
  if (config.confdir.empty()) {
    rc = ::pam_start(config.service.c_str(), user.c_str(), &pc, &handle_);
  } else {
    rc = ::pam_start_confdir(config.service.c_str(), user.c_str(), &pc, config.confdir.c_str(), &handle_);
  }
  if (rc != PAM_SUCCESS) {
    handle_ = nullptr;
    return unavailable("PAM could not start (service \"" + config.service + "\")");
  }
  if (!ruser.empty()) ::pam_set_item(handle_, PAM_RUSER, ruser.c_str());
  if (!tty.empty()) ::pam_set_item(handle_, PAM_TTY, tty.c_str());
  return {};
}

Status PamSession::authenticate() {
  if (handle_ == nullptr) return internal_error("PAM was not started (this is a bug)");
  last_ = ::pam_authenticate(handle_, PAM_DISALLOW_NULL_AUTHTOK);
  if (last_ != PAM_SUCCESS) {
    return unauthenticated(std::string("authentication failed: ") + ::pam_strerror(handle_, last_));
  }
  last_ = ::pam_acct_mgmt(handle_, PAM_DISALLOW_NULL_AUTHTOK);
  if (last_ == PAM_NEW_AUTHTOK_REQD) {
    last_ = ::pam_chauthtok(handle_, PAM_CHANGE_EXPIRED_AUTHTOK);
  }
  if (last_ != PAM_SUCCESS) {
    return permission_denied(std::string("account not usable: ") + ::pam_strerror(handle_, last_));
  }
  return {};
}

Result<std::vector<std::string>> PamSession::open_session() {
  if (handle_ == nullptr) return internal_error("PAM was not started (this is a bug)");
  last_ = ::pam_setcred(handle_, PAM_ESTABLISH_CRED);
  if (last_ != PAM_SUCCESS) {
    return permission_denied(std::string("PAM could not set credentials: ") + ::pam_strerror(handle_, last_));
  }
  cred_established_ = true;
  last_ = ::pam_open_session(handle_, 0);
  if (last_ != PAM_SUCCESS) {
    return permission_denied(std::string("PAM could not open a session: ") + ::pam_strerror(handle_, last_));
  }
  session_open_ = true;
  std::vector<std::string> env;
  if (char** list = ::pam_getenvlist(handle_)) {
    for (char** p = list; *p != nullptr; ++p) {
      env.emplace_back(*p);
      std::free(*p);
    }
    std::free(static_cast<void*>(list));
  }
  return env;
}

void PamSession::end() {
  if (handle_ == nullptr) return;
  if (session_open_) last_ = ::pam_close_session(handle_, PAM_SILENT);
  if (cred_established_) last_ = ::pam_setcred(handle_, PAM_DELETE_CRED | PAM_SILENT);
  ::pam_end(handle_, last_);
  handle_ = nullptr;
  session_open_ = false;
  cred_established_ = false;
}

Status pam_authenticate_user(const PamConfig& config, const std::string& user, const std::string& tty,
                             endpoint::Conversation& conv) {
  PamSession pam;
  if (auto st = pam.start(config, user, user, tty, &conv); !st) return st;
  return pam.authenticate();
}

}  // namespace hoist::plugin
