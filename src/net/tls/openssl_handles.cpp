#include "net/tls/openssl_handles.h"

#include <openssl/err.h>

#include <array>
#include <climits>

namespace hoist::tls {

std::string take_openssl_errors() {
  std::string out;
  while (const unsigned long code = ERR_get_error()) {
    std::array<char, 256> buf{};
    ERR_error_string_n(code, buf.data(), buf.size());
    if (!out.empty()) out += "; ";
    out += buf.data();
  }
  if (out.empty()) out = "no OpenSSL error reported";
  return out;
}

Error openssl_error(ErrorCode code, std::string_view what) {
  std::string message(what);
  message += ": ";
  message += take_openssl_errors();
  return {code, std::move(message)};
}

Result<BioPtr> memory_bio(std::string_view text) {
  if (text.size() > static_cast<std::size_t>(INT_MAX)) return invalid_argument("PEM text is too large");
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) return openssl_error(ErrorCode::kInternal, "cannot create a memory BIO");
  return bio;
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  if (data == nullptr || len <= 0) return {};
  return {data, static_cast<std::size_t>(len)};
}

}  // namespace hoist::tls
