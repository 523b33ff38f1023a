// SetTcpCork: TCP_CORK on a connected socket, for the plain (loopback-only) WebSocket
// connections of holdfastd and hf-load. TLS connections cork in user space instead
// (TlsSocket::cork_next_write).
#ifndef HOLDFAST_SERVER_TCP_CORK_H_
#define HOLDFAST_SERVER_TCP_CORK_H_

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>

namespace holdfast::server {

// SetTcpCork sets or clears TCP_CORK. While it is set the kernel holds what is written until
// a full segment is ready, the cork is cleared, or 200 ms pass: frames written one by one
// leave in full segments, and the reader is woken once. A failure is ignored: the data then
// goes out as written or, if clearing failed, within those 200 ms.
inline void SetTcpCork(boost::asio::ip::tcp::socket& socket, bool on) {
  const int flag = on ? 1 : 0;
  (void)::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_CORK, &flag, sizeof flag);
}

}  // namespace holdfast::server

#endif  // HOLDFAST_SERVER_TCP_CORK_H_
