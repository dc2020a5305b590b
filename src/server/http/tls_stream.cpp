#include "server/http/tls_stream.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <cerrno>
#include <cstdint>

namespace hoist::server {

namespace {

namespace asio = boost::asio;
using boost::system::error_code;

// A socket BIO that sends with MSG_NOSIGNAL: OpenSSL's own socket BIO
// write()s, and a peer that has gone away would raise SIGPIPE in hoistd.
// The descriptor is the BIO's data; nothing here closes it.
bool retryable(int error) {
#if EAGAIN != EWOULDBLOCK
  if (error == EWOULDBLOCK) return true;
#endif
  return error == EAGAIN || error == EINTR;
}

int fd_of(BIO* bio) {
  return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio)));
}

int bio_write(BIO* bio, const char* data, std::size_t len, std::size_t* written) {
  BIO_clear_retry_flags(bio);
  const ssize_t n = ::send(fd_of(bio), data, len, MSG_NOSIGNAL);
  if (n >= 0) {
    *written = static_cast<std::size_t>(n);
    return 1;
  }
  if (retryable(errno)) {
    BIO_set_retry_write(bio);
  }
  return 0;
}

int bio_read(BIO* bio, char* data, std::size_t len, std::size_t* read) {
  BIO_clear_retry_flags(bio);
  const ssize_t n = ::recv(fd_of(bio), data, len, 0);
  if (n > 0) {
    *read = static_cast<std::size_t>(n);
    return 1;
  }
  if (n == 0) {
    // Lets OpenSSL tell an EOF without close_notify (BIO_eof) from an error.
    BIO_set_flags(bio, BIO_FLAGS_IN_EOF);
  } else if (retryable(errno)) {
    BIO_set_retry_read(bio);
  }
  return 0;
}

long bio_ctrl(BIO* bio, int cmd, long /*num*/, void* /*ptr*/) {
  switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_EOF: return BIO_test_flags(bio, BIO_FLAGS_IN_EOF) != 0 ? 1 : 0;
    default: return 0;
  }
}

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* socket_method() {
  static BIO_METHOD* const kMethod = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "hoist socket");
    if (m != nullptr) {
      BIO_meth_set_write_ex(m, bio_write);
      BIO_meth_set_read_ex(m, bio_read);
      BIO_meth_set_ctrl(m, bio_ctrl);
      BIO_meth_set_create(m, bio_create);
    }
    return m;
  }();
  return kMethod;
}

// After SSL_ERROR_SSL, the way asio::ssl reports it.
error_code ssl_error() {
  const unsigned long e = ERR_get_error();
  if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    return asio::ssl::error::stream_truncated;
  }
  if (e == 0) {
    return asio::ssl::error::unspecified_system_error;
  }
  return {static_cast<int>(e), asio::error::get_ssl_category()};
}

}  // namespace

TlsStream::TlsStream(asio::ip::tcp::socket socket, SSL_CTX* ctx)
    : socket_(std::move(socket)), timer_(socket_.get_executor()), deadline_(std::make_shared<Deadline>()) {
  deadline_->socket = &socket_;
  error_code ec;
  socket_.non_blocking(true, ec);
  const BIO_METHOD* method = socket_method();
  if (ec || method == nullptr) {
    return;
  }
  ssl_ = SSL_new(ctx);
  if (ssl_ == nullptr) {
    return;
  }
  BIO* bio = BIO_new(method);
  if (bio == nullptr) {
    SSL_free(ssl_);
    ssl_ = nullptr;
    return;
  }
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(socket_.native_handle())));
  SSL_set_bio(ssl_, bio, bio);  // takes the one reference
  // No BIO pair and released record buffers: an idle connection holds no
  // 17 KiB buffers. Partial writes: a write_some may send less than asked.
  SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_accept_state(ssl_);
}

TlsStream::~TlsStream() {
  deadline_->socket = nullptr;
  if (ssl_ != nullptr) {
    SSL_free(ssl_);  // does not close the descriptor; socket_ does
  }
}

void TlsStream::expires_after(std::chrono::steady_clock::duration timeout) {
  auto& d = *deadline_;
  d.expired = false;
  const auto generation = ++d.generation;
  timer_.expires_after(timeout);
  timer_.async_wait([deadline = deadline_, generation](const error_code& ec) {
    // A stale expiry (the deadline moved since) or a gone stream: nothing.
    if (ec || deadline->socket == nullptr || deadline->generation != generation) {
      return;
    }
    deadline->expired = true;
    if (deadline->waiting) {
      error_code ignored;
      deadline->socket->cancel(ignored);
    }
  });
}

void TlsStream::expires_never() {
  auto& d = *deadline_;
  d.expired = false;
  ++d.generation;
  timer_.cancel();
}

void TlsStream::cancel() {
  error_code ignored;
  socket_.cancel(ignored);
}

void TlsStream::close() {
  error_code ignored;
  socket_.close(ignored);
}

error_code TlsStream::unusable() {
  if (deadline_->expired) {
    error_code ignored;
    socket_.close(ignored);
    return boost::beast::error::timeout;
  }
  if (!socket_.is_open()) {
    return asio::error::bad_descriptor;
  }
  if (ssl_ == nullptr) {
    return asio::ssl::error::unspecified_system_error;
  }
  return {};
}

error_code TlsStream::wait_failed(error_code ec) {
  if (deadline_->expired) {
    error_code ignored;
    socket_.close(ignored);
    return boost::beast::error::timeout;
  }
  return ec;
}

asio::const_buffer TlsStream::Gather::bytes(std::array<char, kGather>& scratch) const {
  if (count_ <= 1) {
    return parts_[0];
  }
  const std::size_t n = asio::buffer_copy(asio::buffer(scratch), parts_);
  return {scratch.data(), n};
}

TlsStream::Outcome TlsStream::attempt(Kind kind, asio::mutable_buffer read, const Gather& write) {
  if (fatal_ && kind != Kind::kHandshake) {
    return {Want::kNothing, asio::ssl::error::unspecified_system_error, 0};
  }
  std::array<char, kGather> scratch;
  ERR_clear_error();
  errno = 0;
  int ret = 0;
  std::size_t bytes = 0;
  switch (kind) {
    case Kind::kHandshake: ret = SSL_do_handshake(ssl_); break;
    case Kind::kRead:
      if (read.size() == 0) {
        return {};
      }
      ret = SSL_read_ex(ssl_, read.data(), read.size(), &bytes);
      break;
    case Kind::kWrite: {
      const auto out = write.bytes(scratch);
      if (out.size() == 0) {
        return {};
      }
      ret = SSL_write_ex(ssl_, out.data(), out.size(), &bytes);
      break;
    }
    case Kind::kShutdown:
      ret = SSL_shutdown(ssl_);
      if (ret == 0) {
        // close_notify is out; now wait for the peer's.
        ERR_clear_error();
        errno = 0;
        ret = SSL_shutdown(ssl_);
      }
      break;
  }
  const int saved_errno = errno;
  if (ret == 1) {
    return {Want::kNothing, {}, bytes};
  }
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ: return {Want::kRead, {}, 0};
    case SSL_ERROR_WANT_WRITE: return {Want::kWrite, {}, 0};
    case SSL_ERROR_ZERO_RETURN: return {Want::kNothing, asio::error::eof, 0};
    case SSL_ERROR_SYSCALL:
      fatal_ = true;
      if (saved_errno != 0) {
        return {Want::kNothing, error_code(saved_errno, boost::system::system_category()), 0};
      }
      return {Want::kNothing, asio::ssl::error::stream_truncated, 0};
    case SSL_ERROR_SSL: fatal_ = true; return {Want::kNothing, ssl_error(), 0};
    default: fatal_ = true; return {Want::kNothing, asio::ssl::error::unspecified_system_error, 0};
  }
}

}  // namespace hoist::server
