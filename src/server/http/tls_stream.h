// A server-side TLS stream with OpenSSL attached to the socket itself, as
// nginx does, instead of asio::ssl::stream. Included only by the HTTP layer's
// .cpp files (it names Asio).
//
// Why: asio::ssl::stream keeps two 17 KiB record buffers and a 2x17 KiB BIO
// pair per connection for the connection's whole life; an idle long poll
// then costs ~71 KiB. Here OpenSSL reads and writes the descriptor through a
// small BIO (recv/send, MSG_NOSIGNAL) and SSL_MODE_RELEASE_BUFFERS frees its
// record buffers whenever nothing is pending, so an idle connection holds
// only the SSL object, the socket and a deadline.
//
// Operations try OpenSSL first and wait for socket readiness
// (async_wait) only on SSL_ERROR_WANT_READ / WANT_WRITE. They meet Beast's
// AsyncReadStream / AsyncWriteStream requirements, and fail like
// asio::ssl + beast::tcp_stream did: asio::error::eof for a close_notify,
// asio::ssl::error::stream_truncated for an EOF without one,
// beast::error::timeout when the deadline passes (the socket is then
// closed), asio::error::operation_aborted after cancel().
//
// MUST: one operation at a time (HTTP/1.1 here never overlaps a read and a
// write), all on the socket's executor (one thread).
// MUST: once the socket is closed, OpenSSL never touches its descriptor
// number again (the kernel may have given it to another connection).
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

namespace hoist::server {

class TlsStream {
 public:
  using executor_type = boost::asio::ip::tcp::socket::executor_type;

  // `ctx` must outlive the stream. A failed SSL_new shows as a failed handshake.
  TlsStream(boost::asio::ip::tcp::socket socket, SSL_CTX* ctx);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  // The socket itself, for what is read before the TLS handshake (a PROXY
  // protocol header) and only then: OpenSSL reads it from the handshake on.
  boost::asio::ip::tcp::socket& socket() { return socket_; }

  // Like beast::tcp_stream: the next operations fail with
  // beast::error::timeout (and the socket is closed) if they are still
  // waiting `timeout` from now; time spent with no operation pending counts
  // only when the next one starts.
  void expires_after(std::chrono::steady_clock::duration timeout);
  // No deadline (a parked long poll, whose own timer answers it): nothing
  // waits on the timer, so an idle connection holds no timer operation.
  void expires_never();
  // Makes a pending operation complete with operation_aborted.
  void cancel();
  // Closes the socket now (a connection shed under load): a pending
  // operation completes with operation_aborted and every later one fails;
  // OpenSSL never touches the descriptor again.
  void close();

  template <class Token>
  auto async_handshake(Token&& token) {
    return async_op(Kind::kHandshake, boost::asio::mutable_buffer(), std::forward<Token>(token));
  }

  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return async_op(Kind::kRead, first_non_empty(buffers), std::forward<Token>(token));
  }

  // Writes from the first buffer, or gathers small buffers (an HTTP header
  // and a short body) into one TLS record.
  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return async_op(Kind::kWrite, Gather(buffers), std::forward<Token>(token));
  }

  // Sends close_notify and waits for the peer's.
  template <class Token>
  auto async_shutdown(Token&& token) {
    return async_op(Kind::kShutdown, boost::asio::mutable_buffer(), std::forward<Token>(token));
  }

 private:
  enum class Kind { kHandshake, kRead, kWrite, kShutdown };
  enum class Want { kNothing, kRead, kWrite };
  struct Outcome {
    Want want = Want::kNothing;
    boost::system::error_code ec;
    std::size_t bytes = 0;
  };

  // The start of a buffer sequence: the first buffer alone when it is
  // large, or several small ones (an HTTP header and a short body) to be
  // gathered into one TLS record. Keeps the buffers, not the sequence
  // object, which may be a temporary of the caller.
  static constexpr std::size_t kGather = 16384;
  class Gather {
   public:
    Gather() = default;
    template <class ConstBufferSequence>
    explicit Gather(const ConstBufferSequence& buffers) {
      std::size_t total = 0;
      for (auto it = boost::asio::buffer_sequence_begin(buffers);
           it != boost::asio::buffer_sequence_end(buffers) && count_ < parts_.size() && total < kGather; ++it) {
        const boost::asio::const_buffer b(*it);
        if (b.size() == 0) continue;
        parts_[count_++] = b;
        total += b.size();
      }
    }
    // What to hand SSL_write: the first buffer, or up to kGather bytes
    // gathered into `scratch`; the same bytes on every retry.
    [[nodiscard]] boost::asio::const_buffer bytes(std::array<char, kGather>& scratch) const;

   private:
    std::array<boost::asio::const_buffer, 8> parts_{};
    std::size_t count_ = 0;
  };

  template <class MutableBufferSequence>
  static boost::asio::mutable_buffer first_non_empty(const MutableBufferSequence& buffers) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
      const boost::asio::mutable_buffer b(*it);
      if (b.size() != 0) return b;
    }
    return {};
  }

  // State shared with the deadline timer's handler, which may run after
  // the stream is gone.
  struct Deadline {
    boost::asio::ip::tcp::socket* socket = nullptr;  // null once the stream is gone
    std::uint64_t generation = 0;
    bool expired = false;
    bool waiting = false;
  };

  // One attempt of the operation; Want::kRead / kWrite: wait and retry.
  Outcome attempt(Kind kind, boost::asio::mutable_buffer read, const Gather& write);
  Outcome attempt(Kind kind, const Gather& write) { return attempt(kind, {}, write); }
  // Why an operation cannot start (closed, timed out), or nothing.
  boost::system::error_code unusable();
  // What a failed or cancelled readiness wait means for the operation.
  boost::system::error_code wait_failed(boost::system::error_code ec);

  template <class Buffers>
  class Op {
   public:
    Op(TlsStream& stream, Kind kind, Buffers buffers) : stream_(stream), kind_(kind), buffers_(std::move(buffers)) {}

    template <class Self>
    void operator()(Self& self, boost::system::error_code wait_ec = {}) {
      switch (state_) {
        case State::kPosted: return self.complete(result_.ec, result_.bytes);
        case State::kWaiting:
          stream_.deadline_->waiting = false;
          if (wait_ec) return self.complete(stream_.wait_failed(wait_ec), 0);
          break;
        case State::kStart: break;
      }
      if (const auto ec = stream_.unusable()) {
        result_ = {Want::kNothing, ec, 0};
      } else {
        result_ = run_attempt();
      }
      if (result_.want == Want::kNothing) {
        if (state_ == State::kWaiting) return self.complete(result_.ec, result_.bytes);
        // Never complete inside the initiating call.
        state_ = State::kPosted;
        return boost::asio::post(stream_.socket_.get_executor(), std::move(self));
      }
      state_ = State::kWaiting;
      stream_.deadline_->waiting = true;
      stream_.socket_.async_wait(result_.want == Want::kRead ? boost::asio::ip::tcp::socket::wait_read
                                                             : boost::asio::ip::tcp::socket::wait_write,
                                 std::move(self));
    }

   private:
    enum class State { kStart, kWaiting, kPosted };
    Outcome run_attempt() {
      if constexpr (std::is_same_v<Buffers, Gather>) {
        return stream_.attempt(kind_, buffers_);
      } else {
        return stream_.attempt(kind_, buffers_, Gather());
      }
    }

    TlsStream& stream_;
    Kind kind_;
    Buffers buffers_;
    State state_ = State::kStart;
    Outcome result_;
  };

  template <class Buffers, class Token>
  auto async_op(Kind kind, Buffers buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        Op<Buffers>(*this, kind, std::move(buffers)), token, socket_);
  }

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<Deadline> deadline_;
  SSL* ssl_ = nullptr;
  bool fatal_ = false;  // after SSL_ERROR_SSL / SYSCALL OpenSSL must not be used again
};

}  // namespace hoist::server
