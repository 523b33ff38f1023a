#include "holdfast/server/tls_stream.h"

#include <string_view>

#include "holdfast/common/encoding.h"

namespace holdfast::server::tls {

namespace {

// OnKeyLogLine keeps one of the two application traffic secrets from an NSS key-log line:
// "LABEL <client random hex> <secret hex>". Other lines (handshake secrets) are ignored.
void OnKeyLogLine(const SSL* ssl, const char* line) {
  auto* secrets = static_cast<HandshakeSecrets*>(SSL_get_ex_data(ssl, HandshakeSecretsIndex()));
  if (secrets == nullptr || line == nullptr) {
    return;
  }
  const std::string_view text(line);
  SecretBytes* target = nullptr;
  std::string_view rest;
  constexpr std::string_view kClient = "CLIENT_TRAFFIC_SECRET_0 ";
  constexpr std::string_view kServer = "SERVER_TRAFFIC_SECRET_0 ";
  if (text.substr(0, kClient.size()) == kClient) {
    target = &secrets->client;
    rest = text.substr(kClient.size());
  } else if (text.substr(0, kServer.size()) == kServer) {
    target = &secrets->server;
    rest = text.substr(kServer.size());
  } else {
    return;
  }
  const size_t space = rest.find(' ');
  if (space == std::string_view::npos) {
    return;
  }
  const std::string_view hex = rest.substr(space + 1);
  if (hex.size() % 2 != 0 || hex.size() / 2 > kMaxSecretBytes) {
    return;
  }
  auto bytes = HexDecode(hex);  // constant time (libsodium's codec)
  if (!bytes.ok()) {
    return;
  }
  *target = SecretBytes::Copy(bytes.value());
  SecureWipe(bytes.value());
}

}  // namespace

int HandshakeSecretsIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

void PrepareServerContext(SSL_CTX* ctx) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_max_early_data(ctx, 0);
  SSL_CTX_set_keylog_callback(ctx, OnKeyLogLine);
  (void)HandshakeSecretsIndex();
}

void PrepareClientContext(SSL_CTX* ctx) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_keylog_callback(ctx, OnKeyLogLine);
  (void)HandshakeSecretsIndex();
}

}  // namespace holdfast::server::tls
