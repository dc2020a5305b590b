#include "server/notify/ca_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <boost/json.hpp>

#include <cerrno>
#include <cstring>
#include <memory>

namespace hoist::notify {

namespace {

struct CloseFd {
  explicit CloseFd(int f) : fd(f) {}
  ~CloseFd() {
    if (fd >= 0) ::close(fd);
  }
  CloseFd(const CloseFd&) = delete;
  CloseFd& operator=(const CloseFd&) = delete;
  int fd;
};

// How many certificates the PEM text holds, or why OpenSSL cannot read it
// (as X509_load_cert_crl_file reads a CA file: certificates and CRLs).
Result<std::size_t> count_certificates(const std::string& pem) {
  ERR_clear_error();
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return internal_error("out of memory reading a CA file");
  STACK_OF(X509_INFO)* infos = PEM_X509_INFO_read_bio(bio.get(), nullptr, nullptr, nullptr);
  if (infos == nullptr) {
    const unsigned long err = ERR_get_error();
    ERR_clear_error();
    const char* reason = ERR_reason_error_string(err);
    return invalid_argument(fmt::format("OpenSSL cannot read it as PEM: {}", reason != nullptr ? reason : "unknown"));
  }
  std::size_t certificates = 0;
  for (int i = 0; i < sk_X509_INFO_num(infos); ++i) {
    if (sk_X509_INFO_value(infos, i)->x509 != nullptr) ++certificates;
  }
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  ERR_clear_error();
  return certificates;
}

}  // namespace

Error unusable_ca_file() {
  return Error{ErrorCode::kInvalidArgument, std::string(kUnusableCaFile)};
}

Result<std::string> read_ca_file(const std::string& path, std::string* problem) {
  const auto unusable = [&](std::string why) -> Error {
    if (problem != nullptr) *problem = std::move(why);
    return unusable_ca_file();
  };
  if (path.empty() || path.front() != '/') return unusable("it is not an absolute path");
  // O_PATH first: it opens nothing for reading, so a FIFO's writer is not
  // released and no device's driver runs. Only a regular file is then
  // opened for reading, through that descriptor (the same inode, whatever
  // the path names by then), without blocking.
  const CloseFd where{::open(path.c_str(), O_PATH | O_CLOEXEC)};
  if (where.fd < 0) return unusable(fmt::format("cannot open it: {}", std::strerror(errno)));
  struct stat st {};
  if (::fstat(where.fd, &st) != 0) return unusable(fmt::format("cannot stat it: {}", std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) {
    return unusable(S_ISDIR(st.st_mode) ? "it is a directory" : "it is not a regular file (a device, FIFO or socket)");
  }
  const std::string self = fmt::format("/proc/self/fd/{}", where.fd);
  const CloseFd file{::open(self.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)};
  if (file.fd < 0) return unusable(fmt::format("cannot open it: {}", std::strerror(errno)));
  struct stat opened {};
  if (::fstat(file.fd, &opened) != 0 || opened.st_dev != st.st_dev || opened.st_ino != st.st_ino ||
      !S_ISREG(opened.st_mode)) {
    return unusable("it changed while it was opened");
  }
  if (static_cast<std::size_t>(st.st_size) > kMaxCaFileBytes) {
    return unusable(fmt::format("it is larger than {} bytes", kMaxCaFileBytes));
  }
  std::string pem;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(file.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return unusable(fmt::format("cannot read it: {}", std::strerror(errno)));
    if (n == 0) break;
    pem.append(buf, static_cast<std::size_t>(n));
    if (pem.size() > kMaxCaFileBytes) return unusable(fmt::format("it is larger than {} bytes", kMaxCaFileBytes));
  }
  auto certificates = count_certificates(pem);
  if (!certificates) return unusable(certificates.error().message);
  if (*certificates == 0) return unusable("it holds no PEM certificate");
  return pem;
}

Result<std::unique_ptr<net::HttpsClient>> receiver_client(const std::string& origin,
                                                          const std::optional<std::string>& ca_file,
                                                          std::chrono::seconds timeout,
                                                          std::size_t max_response_bytes) {
  net::ClientOptions options;
  if (ca_file) {
    // The text read here, never the path again: the file could be swapped
    // for a FIFO between the check and a second open.
    auto pem = read_ca_file(*ca_file);
    if (!pem) return pem.error();
    options.ca_pem = std::move(*pem);
  }
  options.url = origin;
  options.system_ca = !ca_file;
  options.connect_timeout = timeout;
  options.request_timeout = timeout;
  options.max_response_bytes = max_response_bytes;
  auto client = net::HttpsClient::create(std::move(options));
  // The origin is a checked URL's: with a CA file, what is left to fail is
  // its text (OpenSSL reading it differently); one message, as above.
  if (!client && ca_file) return unusable_ca_file();
  return client;
}

std::optional<std::string> ca_file_problem(std::string_view config) {
  boost::system::error_code ec;
  auto v = boost::json::parse(config, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto* path = v.as_object().if_contains("ca_file");
  if (path == nullptr || !path->is_string()) return std::nullopt;
  const std::string file(path->as_string());
  std::string problem;
  if (read_ca_file(file, &problem)) return std::nullopt;
  return fmt::format("{}: {}", file.substr(0, 256), problem);
}

}  // namespace hoist::notify
