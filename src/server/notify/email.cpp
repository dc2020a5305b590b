// The email channel's sender (email.h): one SMTP transaction per mail,
// each on a fresh connection, driven by libcurl's multi interface. An
// interrupt() shuts down the sockets this sender's libcurl opened (it
// opens and closes them through callbacks here, under a lock, so a
// descriptor is never shut down after libcurl closed it) and wakes the
// multi handle: libcurl would otherwise wait, up to the timeout, for a
// silent server's answer to the QUIT it sends when a transfer is cut.
#include "server/notify/email.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <deque>
#include <mutex>
#include <set>

#include "core/audit_kind.h"
#include "server/notify/ca_file.h"
#include "server/notify/email_message.h"
#include "server/notify/kinds.h"

namespace hoist::notify {

namespace {

constexpr std::size_t kMaxReplyBytes = 200;
constexpr std::size_t kRememberedMails = 256;
constexpr int kPollMs = 1000;
// CURLOPT_PROTOCOLS_STR came with 7.85.0.
constexpr unsigned kMinCurlVersion = 0x075500;

struct EasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct MultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct MimeDeleter {
  void operator()(curl_mime* m) const { curl_mime_free(m); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Easy = std::unique_ptr<CURL, EasyDeleter>;
using Multi = std::unique_ptr<CURLM, MultiDeleter>;
using Mime = std::unique_ptr<curl_mime, MimeDeleter>;
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// False when libcurl could not (the list is then as it was).
bool append(Slist& list, const std::string& item) {
  curl_slist* head = curl_slist_append(list.get(), item.c_str());
  if (head == nullptr) return false;
  (void)list.release();
  list.reset(head);
  return true;
}

// What one transfer keeps: the server's last reply lines (the refusal,
// then perhaps the answer to QUIT) and libcurl's error text.
struct Transfer {
  std::deque<std::string> replies;
  std::array<char, CURL_ERROR_SIZE> error{};

  // The last reply with this code ("" for none).
  [[nodiscard]] std::string reply(long code) const {
    const std::string prefix = std::to_string(code);
    for (auto it = replies.rbegin(); it != replies.rend(); ++it) {
      if (it->starts_with(prefix)) return *it;
    }
    return "";
  }
};

// Only the server's replies (CURLINFO_HEADER_IN) are kept: what hoistd
// sends (AUTH carries the password) is never looked at.
int keep_reply(CURL* /*handle*/, curl_infotype type, char* data, std::size_t size, void* user) {
  if (type == CURLINFO_HEADER_IN && data != nullptr) {
    auto& replies = static_cast<Transfer*>(user)->replies;
    replies.emplace_back(data, std::min(size, 2 * kMaxReplyBytes));
    if (replies.size() > 8) replies.pop_front();
  }
  return 0;
}

std::string printable(std::string_view s) {
  std::string out;
  for (const char c : s.substr(0, kMaxReplyBytes)) out += (c >= ' ' && c < 0x7f) ? c : ' ';
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// The machine's name for EHLO, as far as it is a DNS name.
std::string ehlo_name() {
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0) return "hoistd";
  std::string out;
  for (const char* p = name.data(); *p != '\0'; ++p) {
    const char c = *p;
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) return "hoistd";
    out += c;
  }
  return out.empty() ? std::string("hoistd") : out;
}

// How one SMTP transaction ended.
struct SmtpResult {
  bool accepted = false;
  std::optional<long> code;  // the refusal's reply code (4xx, 5xx); nullopt: no SMTP answer
  std::string error;         // a few words, never the password
};

struct Outgoing {
  MailAudience audience;
  Mail mail;
};

class EmailSender final : public Sender {
 public:
  EmailSender(EmailConfig config, SmtpServer server, std::optional<std::string> password,
              std::optional<std::string> ca_pem, Multi multi)
      : config_(std::move(config)),
        server_(std::move(server)),
        url_(server_.origin + "/" + ehlo_name()),
        password_(std::move(password)),
        ca_pem_(std::move(ca_pem)),
        multi_(std::move(multi)) {}

  outbox::AttemptOutcome send(const Message& message, AuditTime /*now*/) override {
    std::vector<Outgoing> mails;
    std::string not_mailed;
    if (!config_.to.empty()) {
      mails.push_back(
          {MailAudience::kChannel, compose_mail(message, config_.from, config_.to, MailAudience::kChannel)});
    }
    if (config_.requester_template && tells_requester(message.event.action)) {
      if (!message.request) {
        not_mailed = "the request is not in the store, so its requester is not mailed";
      } else if (auto a = requester_address(*config_.requester_template, message.request->request.requester)) {
        mails.push_back(
            {MailAudience::kRequester, compose_mail(message, config_.from, {*a}, MailAudience::kRequester)});
      } else {
        not_mailed = a.error().message;
      }
    }
    if (mails.empty()) {
      if (!not_mailed.empty()) return {kEmailRefused, std::nullopt, not_mailed + "; nothing was sent"};
      if (message.event.action == to_string(AuditKind::kNotifyChannelTested)) {
        return {kEmailRefused, std::nullopt,
                "nothing was sent: the channel has no to addresses, and a test message has no requester"};
      }
      return {kEmailNobodyToMail, std::nullopt, ""};
    }
    bool no_answer = false;
    bool later = false;
    bool never = false;
    std::string errors;
    for (const auto& out : mails) {
      if (accepted_before(out.mail.message_id)) continue;  // a retry after the other mail failed
      const SmtpResult r = transfer(out.mail);
      if (r.accepted) {
        remember(out.mail.message_id);
        continue;
      }
      if (!errors.empty()) errors += "; ";
      if (mails.size() > 1) errors += out.audience == MailAudience::kRequester ? "to the requester: " : "to the list: ";
      errors += r.error;
      if (!r.code) {
        no_answer = true;  // the next mail would wait as long
        break;
      }
      (*r.code < 500 ? later : never) = true;
    }
    if (no_answer) return {std::nullopt, std::nullopt, errors};
    if (later) return {kEmailRefusedForNow, std::nullopt, errors};
    if (never) return {kEmailRefused, std::nullopt, errors};
    return {kEmailDelivered, std::nullopt, ""};
  }

  void interrupt() override {
    {
      const std::lock_guard lock(sockets_mu_);
      interrupted_ = true;
      for (const auto fd : sockets_) ::shutdown(fd, SHUT_RDWR);
    }
    curl_multi_wakeup(multi_.get());  // may be called from any thread
  }

 private:
  SmtpResult transfer(const Mail& mail) {
    if (interrupted_) return {false, std::nullopt, "interrupted: hoistd is stopping"};
    Transfer t;
    Slist recipients;
    Slist headers;
    for (const auto& r : mail.recipients) {
      if (!append(recipients, "<" + r + ">")) return {false, std::nullopt, "out of memory"};
    }
    for (const auto& h : mail.headers) {
      if (!append(headers, h)) return {false, std::nullopt, "out of memory"};
    }
    // libcurl writes it with the MIME boundary (and MIME-Version).
    if (!append(headers, "Content-Type: multipart/alternative")) return {false, std::nullopt, "out of memory"};
    Mime mime;  // freed after the handle that uses it
    Easy easy(curl_easy_init());
    if (!easy) return {false, std::nullopt, "libcurl could not make a handle"};
    mime.reset(curl_mime_init(easy.get()));
    if (!mime) return {false, std::nullopt, "out of memory"};
    for (const auto& [body, type] :
         {std::pair{&mail.text, "text/plain; charset=utf-8"}, std::pair{&mail.html, "text/html; charset=utf-8"}}) {
      curl_mimepart* part = curl_mime_addpart(mime.get());
      if (part == nullptr || curl_mime_data(part, body->data(), body->size()) != CURLE_OK ||
          curl_mime_type(part, type) != CURLE_OK || curl_mime_encoder(part, "quoted-printable") != CURLE_OK) {
        return {false, std::nullopt, "libcurl could not build the message"};
      }
    }
    const std::string from = "<" + config_.from + ">";
    const long timeout = static_cast<long>(config_.timeout.count());
    CURLcode rc = CURLE_OK;
    const auto set = [&](CURLoption option, auto value) {
      if (rc == CURLE_OK) rc = curl_easy_setopt(easy.get(), option, value);
    };
    set(CURLOPT_URL, url_.c_str());
    set(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    set(CURLOPT_FOLLOWLOCATION, 0L);
    set(CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    set(CURLOPT_SSL_VERIFYPEER, 1L);
    set(CURLOPT_SSL_VERIFYHOST, 2L);
    set(CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    if (ca_pem_) {
      // The ca_file as read when the sender was made (ca_file.h), never
      // the path again: no error at a send tells what is at that path now.
      curl_blob ca{ca_pem_->data(), ca_pem_->size(), CURL_BLOB_COPY};
      set(CURLOPT_CAINFO_BLOB, &ca);
      set(CURLOPT_CAINFO, static_cast<const char*>(nullptr));
      set(CURLOPT_CAPATH, static_cast<const char*>(nullptr));  // only the channel's CA
    }
    set(CURLOPT_CONNECTTIMEOUT, timeout);
    set(CURLOPT_TIMEOUT, timeout);
    set(CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM; sends use MSG_NOSIGNAL
    set(CURLOPT_FRESH_CONNECT, 1L);
    set(CURLOPT_FORBID_REUSE, 1L);
    set(CURLOPT_MAIL_FROM, from.c_str());
    set(CURLOPT_MAIL_RCPT, recipients.get());
    if (config_.username && password_) {
      set(CURLOPT_USERNAME, config_.username->c_str());
      set(CURLOPT_PASSWORD, password_->c_str());
    }
    set(CURLOPT_HTTPHEADER, headers.get());
    set(CURLOPT_MIMEPOST, mime.get());
    set(CURLOPT_ERRORBUFFER, t.error.data());
    set(CURLOPT_OPENSOCKETFUNCTION, &EmailSender::open_socket);
    set(CURLOPT_OPENSOCKETDATA, static_cast<void*>(this));
    set(CURLOPT_CLOSESOCKETFUNCTION, &EmailSender::close_socket);
    set(CURLOPT_CLOSESOCKETDATA, static_cast<void*>(this));
    set(CURLOPT_DEBUGFUNCTION, &keep_reply);
    set(CURLOPT_DEBUGDATA, static_cast<void*>(&t));
    set(CURLOPT_VERBOSE, 1L);  // to the debug function only
    if (rc != CURLE_OK)
      return {false, std::nullopt, fmt::format("libcurl refused a setting: {}", curl_easy_strerror(rc))};

    const CURLcode result = run(easy.get());
    long code = 0;
    (void)curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &code);
    if (result == CURLE_OK) return {true, std::nullopt, ""};
    if (interrupted_) return {false, std::nullopt, "interrupted: hoistd is stopping"};
    if (result == CURLE_SSL_CACERT_BADFILE) return {false, std::nullopt, std::string(kUnusableCaFile)};
    const std::string what = t.error[0] != '\0' ? printable(t.error.data()) : curl_easy_strerror(result);
    if (code >= 400 && code <= 599) {
      const std::string reply = printable(t.reply(code));
      return {false, code,
              scrubbed(fmt::format("{} said {}", server_.origin,
                                   reply.empty() ? fmt::format("{} ({})", code, what) : reply))};
    }
    return {false, std::nullopt, scrubbed(fmt::format("{}: {}", server_.origin, what))};
  }

  // The transfer through the multi handle, until it ends or interrupt().
  CURLcode run(CURL* easy) {
    if (curl_multi_add_handle(multi_.get(), easy) != CURLM_OK) return CURLE_FAILED_INIT;
    CURLcode result = CURLE_ABORTED_BY_CALLBACK;
    for (bool done = false; !done && !interrupted_;) {
      int running = 0;
      if (curl_multi_perform(multi_.get(), &running) != CURLM_OK) {
        result = CURLE_FAILED_INIT;
        break;
      }
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &queued)) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) {
          result = msg->data.result;
          done = true;
        }
      }
      if (done || running == 0) break;
      if (curl_multi_poll(multi_.get(), nullptr, 0, kPollMs, nullptr) != CURLM_OK) {
        result = CURLE_FAILED_INIT;
        break;
      }
    }
    (void)curl_multi_remove_handle(multi_.get(), easy);
    return result;
  }

  // libcurl's sockets, known to interrupt() while they are open.
  static curl_socket_t open_socket(void* user, curlsocktype /*purpose*/, curl_sockaddr* address) {
    auto* self = static_cast<EmailSender*>(user);
    const std::lock_guard lock(self->sockets_mu_);
    if (self->interrupted_) return CURL_SOCKET_BAD;
    const curl_socket_t fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (fd != CURL_SOCKET_BAD) self->sockets_.insert(fd);
    return fd;
  }
  static int close_socket(void* user, curl_socket_t fd) {
    auto* self = static_cast<EmailSender*>(user);
    const std::lock_guard lock(self->sockets_mu_);
    self->sockets_.erase(fd);
    return ::close(fd);
  }

  // A server that quotes the password back does not get it into an error.
  std::string scrubbed(std::string text) const {
    if (password_ && !password_->empty() && text.find(*password_) != std::string::npos) {
      return fmt::format("{}: the server's answer quoted the password (not shown)", server_.origin);
    }
    return text;
  }

  bool accepted_before(const std::string& id) const {
    return std::find(accepted_.begin(), accepted_.end(), id) != accepted_.end();
  }
  void remember(const std::string& id) {
    accepted_.push_back(id);
    if (accepted_.size() > kRememberedMails) accepted_.pop_front();
  }

  EmailConfig config_;
  SmtpServer server_;
  std::string url_;  // origin + "/" + the EHLO name
  std::optional<std::string> password_;
  std::optional<std::string> ca_pem_;     // the ca_file's text, read once
  std::atomic<bool> interrupted_{false};  // stays set: an interrupted sender is not used again
  std::mutex sockets_mu_;
  std::set<curl_socket_t> sockets_;
  // After the two above: its cleanup may close a connection (close_socket).
  Multi multi_;
  // Message-IDs this sender had accepted (only its worker touches it):
  // a retry sends only the mails that did not go (within one hoistd run).
  std::deque<std::string> accepted_;
};

}  // namespace

Status init_email_transport() {
  static std::once_flag once;
  static Status status;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      status = unavailable("libcurl could not start (curl_global_init)");
      return;
    }
    const curl_version_info_data* v = curl_version_info(CURLVERSION_NOW);
    bool smtps = false;
    for (const char* const* p = v->protocols; p != nullptr && *p != nullptr; ++p) {
      smtps = smtps || std::string_view(*p) == "smtps";
    }
    if (v->version_num < kMinCurlVersion || (v->features & CURL_VERSION_SSL) == 0 || !smtps) {
      status =
          unavailable(fmt::format("libcurl {} cannot send mail here: email channels need 7.85 or later with TLS "
                                  "and SMTPS",
                                  v->version));
    }
  });
  return status;
}

Result<std::unique_ptr<Sender>> make_email_sender(const store::ChannelRecord& channel, const std::string& secrets) {
  if (auto st = init_email_transport(); !st) return st.error();
  auto config = parse_email_config(channel.config);
  if (!config) return config.error();
  auto server = check_smtp_url(config->smtp_url);
  if (!server) return server.error();
  std::optional<std::string> password;
  if (!secrets.empty()) {
    auto stored = parse_channel_secrets(secrets);
    if (!stored || !check_smtp_password(channel.config, stored->current)) {
      return invalid_argument("the email channel's stored password does not read (this is a bug)");
    }
    password = std::move(stored->current);
  }
  if (config->username && !password) {
    return invalid_argument("the channel names a username but has no password: set its secret");
  }
  std::optional<std::string> ca_pem;
  if (config->ca_file) {
    auto pem = read_ca_file(*config->ca_file);
    if (!pem) return pem.error();
    ca_pem = std::move(*pem);
  }
  Multi multi(curl_multi_init());
  if (!multi) return unavailable("libcurl could not make a multi handle");
  return std::unique_ptr<Sender>(std::make_unique<EmailSender>(
      std::move(*config), std::move(*server), std::move(password), std::move(ca_pem), std::move(multi)));
}

}  // namespace hoist::notify
