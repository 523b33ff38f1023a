// Client: a synchronous connection to holdfastd speaking the wire protocol (docs/wire.md)
// over WebSocket, plain (ws://, loopback tests) or TLS 1.3 with a pinned certificate (wss://).
//
// The client runs no thread of its own: every call does its network work on the caller's
// thread and returns by its deadline. A Client is used by one thread at a time.
#ifndef HOLDFAST_WIRE_CLIENT_H_
#define HOLDFAST_WIRE_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/wire/frame.h"

// OpenSSL's TLS connection (SSL), declared here so that callers need no OpenSSL header.
struct ssl_st;

namespace holdfast::wire {

// kWaitTimedOut is the error of a wait that ended at its deadline with nothing to return
// (Call, NextPush, ReadBytes). The connection stays open; a response that arrives after its
// Call gave up is dropped.
inline constexpr ErrorCode kWaitTimedOut = ErrorCode::kNotFound;

// PeerFingerprintFn computes the lower-case hex SHA-256 of the DER certificate the server
// presented on a connection whose TLS handshake is done. crypto::PeerCertificateFingerprintSha256
// is the one to pass: wire/ may not include crypto/ (scripts/check-layers.sh), so the caller,
// which may, supplies it.
using PeerFingerprintFn = Result<std::string> (*)(const ssl_st* ssl);

struct ClientOptions {
  // url is ws://HOST:PORT[/PATH] or wss://HOST:PORT[/PATH]; HOST is a name, an IPv4 address or
  // a bracketed IPv6 address. Without a port, ws uses 80 and wss 443.
  std::string url;
  // pinned_sha256 is the hex SHA-256 of the server's DER certificate (either case); required
  // for wss, ignored for ws. The certificate is not checked against any CA: the pin is the
  // whole trust decision.
  std::string pinned_sha256;
  // peer_fingerprint reads the server's certificate fingerprint; required for wss.
  PeerFingerprintFn peer_fingerprint = nullptr;
  // trust_on_first_use, with an empty pinned_sha256, accepts whatever certificate the server
  // presents, for a client's very first contact: the caller then reads
  // Client::server_fingerprint() and pins it for every later connection.
  bool trust_on_first_use = false;
  // timeout bounds Connect, each Call and each write.
  std::chrono::milliseconds timeout{10000};
  // source_address, when not empty, is the local IP address to connect from (e.g. 127.0.0.5).
  std::string source_address;
};

// ServerUrl is a parsed ClientOptions::url.
struct ServerUrl {
  bool tls = false;
  std::string host;  // without brackets
  uint16_t port = 0;
  std::string target = "/";  // the HTTP request target of the WebSocket upgrade
};

// ParseServerUrl parses ws:// and wss:// URLs as described at ClientOptions::url. Anything
// else (another scheme, an empty host, a port outside 1..65535, user info, a query or a
// fragment, spaces or control characters) is kInvalidArgument.
Result<ServerUrl> ParseServerUrl(std::string_view url);

// PinMatches compares a certificate fingerprint with a pin, both hex, ignoring case, in time
// that depends only on their lengths. Pins that are not 64 hex characters never match.
bool PinMatches(std::string_view fingerprint, std::string_view pin);

class Client {
 public:
  // Connect opens the connection: TCP (from options.source_address if given), then for wss
  // a TLS 1.3 handshake and the pin check, then the WebSocket upgrade, all within
  // options.timeout. Failures: kInvalidArgument (bad URL, missing pin or fingerprint
  // function, bad source address), kAuthenticationFailed (the server's certificate is not
  // the pinned one; nothing was sent over the connection), kUnavailable (cannot resolve,
  // connect or complete a handshake in time).
  // With trust_on_first_use and no pin, any certificate is accepted and reported by
  // server_fingerprint().
  static Result<std::unique_ptr<Client>> Connect(const ClientOptions& options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Call gives `request` a fresh id, sends it and waits up to options.timeout for the response
  // with that id, which it returns whatever its status: a refusal is a pb::Response, not an
  // error. Pushes that arrive meanwhile are queued for NextPush; responses to other ids and
  // frames that do not decode are dropped. Failures: kUnavailable (the connection is or
  // became closed), kWaitTimedOut.
  Result<pb::Response> Call(pb::Request request);

  // NextPush returns the oldest queued push, or waits up to `timeout` for one. Responses that
  // arrive meanwhile are dropped. Failures: kUnavailable (closed and nothing queued),
  // kWaitTimedOut.
  Result<pb::Push> NextPush(std::chrono::milliseconds timeout);

  // SendBytes sends `raw` as one binary WebSocket message and SendText as one text message,
  // unchecked: for tests that feed the server bad input. kUnavailable if closed or the write
  // fails or does not finish within options.timeout (the connection is then closed).
  Result<void> SendBytes(ByteSpan raw);
  Result<void> SendText(std::string_view text);

  // ReadBytes returns the next WebSocket message as received (not decoded), waiting up to
  // `timeout`. It reads past the frames Call and NextPush already took (and queued pushes
  // stay queued). Failures: kUnavailable (closed), kWaitTimedOut.
  Result<Bytes> ReadBytes(std::chrono::milliseconds timeout);

  // Close sends a WebSocket close and closes the connection, waiting for the server's answer
  // at most options.timeout (and at most a second). Idempotent.
  void Close();
  // closed is true once the client closed the connection or saw the server close it.
  bool closed() const;
  // server_fingerprint is the lower-case hex SHA-256 of the server's certificate on a wss
  // connection (the one that matched the pin, or the one first seen); empty for ws.
  const std::string& server_fingerprint() const;

  // Transport is the connection underneath (WebSocket over TCP or over TLS); internal.
  class Transport;

 private:
  Client(std::unique_ptr<Transport> transport, std::chrono::milliseconds timeout);
  // HandleIncoming files one decoded frame: pushes are queued, and a response whose id is
  // `wanted` (0: none) is stored in `*response`. Returns true when it stored one.
  bool HandleIncoming(ByteSpan bytes, uint64_t wanted, pb::Response* response);

  std::unique_ptr<Transport> transport_;
  std::chrono::milliseconds timeout_;
  uint64_t next_id_ = 1;
  std::deque<pb::Push> pushes_;
};

}  // namespace holdfast::wire

#endif  // HOLDFAST_WIRE_CLIENT_H_
