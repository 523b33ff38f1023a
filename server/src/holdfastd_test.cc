// Integration tests: the real holdfastd binary as a child process on 127.0.0.1 (port 0), with
// a fresh data directory, development verification codes and the test clock, driven through
// wire::Client. Every test starts its own server and always stops it; every wait is bounded.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "holdfast/common/bytes.h"
#include "holdfast/common/encoding.h"
#include "holdfast/common/sqlite.h"
#include "holdfast/crypto/certificate.h"
#include "holdfast/crypto/ed25519.h"
#include "holdfast/crypto/random.h"
#include "holdfast/crypto/x25519.h"
#include "holdfast/crypto/xeddsa.h"
#include "holdfast/legal/registry.h"
#include "holdfast/tlog/proof_file.h"
#include "holdfast/testing/holdfastd_process.h"
#include "holdfast/wire/client.h"
#include "holdfast/wire/frame.h"


namespace holdfast {
namespace {

namespace pb = wire::pb;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// kWait bounds every single wait of these tests (a response, a push, a close).
constexpr milliseconds kWait{5000};
// kStartWait bounds the server's start and stop.
constexpr milliseconds kStartWait{15000};
// kShort is how long a test waits to be sure that nothing (more) arrives.
constexpr milliseconds kShort{300};

// Overrides are configuration keys with their JSON values, e.g. {"max_linked_devices", "2"}.
using Overrides = std::map<std::string, std::string>;

std::string Bytes2String(ByteSpan b) { return std::string(b.begin(), b.end()); }

// --- Raw sockets, for HTTP and for clients that misbehave below WebSocket -------------------

int ConnectTcp(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// ReadUntilEof reads until the peer closes or `timeout` passes; `eof` tells which.
std::string ReadUntilEof(int fd, milliseconds timeout, bool* eof) {
  std::string out;
  *eof = false;
  const auto deadline = SteadyClock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) {
      return out;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      continue;
    }
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      *eof = true;
      return out;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

// Http sends one HTTP/1.1 request and returns the whole response ("" on failure).
std::string Http(uint16_t port, std::string_view method, std::string_view target) {
  const int fd = ConnectTcp(port);
  if (fd < 0) {
    return "";
  }
  std::string req;
  req.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  req.append("Content-Length: 0\r\nConnection: close\r\n\r\n");
  bool eof = false;
  std::string res = SendAll(fd, req) ? ReadUntilEof(fd, kWait, &eof) : "";
  ::close(fd);
  return res;
}

// HttpPost sends one POST with `body`.
std::string HttpPost(uint16_t port, std::string_view target, std::string_view body) {
  const int fd = ConnectTcp(port);
  if (fd < 0) {
    return "";
  }
  std::string req;
  req.append("POST ").append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  req.append("Content-Length: ").append(std::to_string(body.size()));
  req.append("\r\nConnection: close\r\n\r\n").append(body);
  bool eof = false;
  std::string res = SendAll(fd, req) ? ReadUntilEof(fd, kWait, &eof) : "";
  ::close(fd);
  return res;
}

std::string HttpBody(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

// --- Requests ---------------------------------------------------------------------------------

pb::Request RegisterRequest(const std::string& phone) {
  pb::Request r;
  r.mutable_register_()->set_phone(phone);
  return r;
}

pb::Request VerifyRequest(const std::string& phone, const std::string& code,
                          const std::string& credential, uint32_t registration_id) {
  pb::Request r;
  auto* v = r.mutable_verify();
  v->set_phone(phone);
  v->set_code(code);
  v->set_credential(credential);
  v->set_registration_id(registration_id);
  v->set_device_name("phone");
  return r;
}

pb::Request AuthRequest(const std::string& account, uint32_t device,
                        const std::string& credential) {
  pb::Request r;
  r.mutable_auth()->set_account_id(account);
  r.mutable_auth()->set_device_id(device);
  r.mutable_auth()->set_credential(credential);
  return r;
}

pb::Request ServerInfoRequest() {
  pb::Request r;
  r.mutable_server_info();
  return r;
}

pb::Request GetBundlesRequest(const std::string& account, uint32_t device) {
  pb::Request r;
  r.mutable_get_bundles()->set_account_id(account);
  r.mutable_get_bundles()->set_device_id(device);
  return r;
}

pb::Request AckRequest(const std::vector<std::string>& ids) {
  pb::Request r;
  r.mutable_ack();
  for (const auto& id : ids) {
    r.mutable_ack()->add_envelope_ids(id);
  }
  return r;
}

// Target is one destination device of a send, with the registration id the sender knows.
struct Target {
  uint32_t device;
  uint32_t registration_id;
};

pb::Request SendRequest(const std::string& destination, const std::vector<Target>& targets,
                        const std::string& content, pb::EnvelopeType type = pb::CIPHERTEXT) {
  pb::Request r;
  auto* s = r.mutable_send();
  s->set_destination(destination);
  s->set_timestamp(1700000000000);
  for (const Target& t : targets) {
    auto* m = s->add_messages();
    m->set_device_id(t.device);
    m->set_registration_id(t.registration_id);
    m->set_type(type);
    m->set_content(content);
  }
  return r;
}

std::string StatusOf(const pb::Response& r) {
  return std::string(wire::StatusName(r.status())) +
         (r.message().empty() ? "" : ": " + r.message());
}

// Device is one registered device as its owner knows it.
struct Device {
  std::string phone;
  std::string account;  // 16 bytes
  uint32_t id = 0;
  std::string credential;
  uint32_t registration_id = 0;
  std::optional<crypto::X25519KeyPair> identity;
  std::unique_ptr<wire::Client> conn;  // signed in, once SignIn succeeded

  Target target() const { return Target{id, registration_id}; }
};

// --- The fixture -------------------------------------------------------------------------------

class HoldfastdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "holdfastd_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    data_dir_ = dir_ + "/data";
    codes_file_ = dir_ + "/codes.txt";
  }

  void TearDown() override {
    if (server_.running()) {
      // Every test ends with a graceful stop; a crash on the way shows here.
      EXPECT_EQ(StopServer(), 0) << "holdfastd did not exit cleanly on SIGTERM";
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // StartServer spawns holdfastd with the base configuration plus `overrides` and waits for
  // its port. With `tls`, it serves wss:// with its self-signed certificate, pinned here.
  void StartServer(const Overrides& overrides = {}, bool tls = false) {
    ASSERT_FALSE(server_.running()) << "already running";
    tls_ = tls;
    // Generous sign-up limits: the test clock never refills a bucket by itself, and these
    // tests register many devices from one IP.
    Overrides config = {
        {"io_threads", "2"},
        {"register_per_phone", R"({"per_minute": 6000, "burst": 1000})"},
        {"register_per_ip", R"({"per_minute": 6000, "burst": 1000})"},
        {"verify_per_ip", R"({"per_minute": 6000, "burst": 1000})"},
        {"auth_failures_per_ip", R"({"per_minute": 6000, "burst": 1000})"},
        {"lookups_per_account", R"({"per_minute": 6000, "burst": 1000})"},
    };
    for (const auto& [k, v] : overrides) {
      config[k] = v;
    }
    const std::string config_file = dir_ + "/config.json";
    {
      std::ofstream out(config_file);
      out << "{";
      const char* sep = "";
      for (const auto& [k, v] : config) {
        out << sep << "\"" << k << "\": " << v;
        sep = ", ";
      }
      out << "}\n";
    }

    testing::HoldfastdOptions o;
    o.binary = HOLDFASTD_PATH;
    o.data_dir = data_dir_;
    o.codes_file = codes_file_;
    o.config_file = config_file;
    o.tls = tls;
    std::string error;
    ASSERT_TRUE(server_.Start(o, kStartWait, &error)) << error;
  }

  // StopServer sends SIGTERM and waits; after kStartWait it kills. Returns the exit status
  // (-1 when killed or not running).
  int StopServer() {
    if (!server_.running()) {
      return -1;
    }
    return server_.Stop(kStartWait);
  }

  std::unique_ptr<wire::Client> Connect(const std::string& source_address = "") {
    wire::ClientOptions o;
    o.url = server_.url();
    o.timeout = kWait;
    o.source_address = source_address;
    if (tls_) {
      o.pinned_sha256 = server_.fingerprint();
      o.peer_fingerprint = &crypto::PeerCertificateFingerprintSha256;
    }
    auto c = wire::Client::Connect(o);
    EXPECT_TRUE(c.ok()) << "connect: " << ErrorName(c.code());
    return c.ok() ? std::move(c).value() : nullptr;
  }

  // Call sends a request and returns its response; a transport failure is a test failure
  // and comes back as an INTERNAL response.
  static pb::Response Call(const std::unique_ptr<wire::Client>& c, const pb::Request& r) {
    if (c == nullptr) {
      ADD_FAILURE() << "no connection";
      pb::Response failed;
      failed.set_status(pb::INTERNAL);
      return failed;
    }
    auto res = c->Call(r);
    EXPECT_TRUE(res.ok()) << "call: " << ErrorName(res.code());
    if (!res.ok()) {
      pb::Response failed;
      failed.set_status(pb::INTERNAL);
      failed.set_message("transport failure");
      return failed;
    }
    return *res;
  }

  static pb::Status StatusFor(const std::unique_ptr<wire::Client>& c, const pb::Request& r) {
    return Call(c, r).status();
  }

  // WaitClosed reads pushes until the server closes the connection; false if it did not
  // within kWait.
  static bool WaitClosed(const std::unique_ptr<wire::Client>& c) {
    const auto deadline = SteadyClock::now() + kWait;
    while (SteadyClock::now() < deadline) {
      auto p = c->NextPush(milliseconds(100));
      if (!p.ok() && p.code() == ErrorCode::kUnavailable) {
        return true;
      }
    }
    return false;
  }

  std::string RandomBytes(size_t n) {
    std::string s(n, '\0');
    rng_.Fill(MutableByteSpan(reinterpret_cast<uint8_t*>(s.data()), s.size()));
    return s;
  }

  uint32_t RandomRegistrationId() {
    return static_cast<uint32_t>(1 + rng_.Uniform(wire::kMaxRegistrationId));
  }

  // CodeFor is the last code the server sent to `phone` ("" if none).
  std::string CodeFor(const std::string& phone) {
    std::ifstream in(codes_file_);
    std::string line;
    std::string code;
    while (std::getline(in, line)) {
      if (line.starts_with(phone + " ")) {
        code = line.substr(phone.size() + 1);
      }
    }
    return code;
  }

  // Register registers `phone` (new or again) with a fresh credential: device 1.
  Device Register(const std::string& phone) {
    Device d;
    d.phone = phone;
    d.credential = RandomBytes(32);
    d.registration_id = RandomRegistrationId();
    auto c = Connect();
    const pb::Response reg = Call(c, RegisterRequest(phone));
    EXPECT_EQ(reg.status(), pb::OK) << StatusOf(reg);
    const std::string code = CodeFor(phone);
    EXPECT_EQ(code.size(), 6u);
    const pb::Response v = Call(c, VerifyRequest(phone, code, d.credential, d.registration_id));
    EXPECT_EQ(v.status(), pb::OK) << StatusOf(v);
    d.account = v.verify().account_id();
    d.id = v.verify().device_id();
    EXPECT_EQ(d.account.size(), wire::kAccountIdBytes);
    EXPECT_EQ(d.id, 1u);
    return d;
  }

  // Link adds a device to `primary`'s account (which must be signed in).
  Device Link(const Device& primary, pb::Status expected = pb::OK) {
    Device d;
    d.phone = primary.phone;
    d.credential = RandomBytes(48);
    d.registration_id = RandomRegistrationId();
    pb::Request create;
    create.mutable_create_link_code();
    const pb::Response code = Call(primary.conn, create);
    EXPECT_EQ(code.status(), pb::OK) << StatusOf(code);
    auto c = Connect();
    pb::Request link;
    link.mutable_link_device()->set_code(code.create_link_code().code());
    link.mutable_link_device()->set_credential(d.credential);
    link.mutable_link_device()->set_registration_id(d.registration_id);
    link.mutable_link_device()->set_device_name("laptop");
    const pb::Response linked = Call(c, link);
    EXPECT_EQ(linked.status(), expected) << StatusOf(linked);
    d.account = linked.link_device().account_id();
    d.id = linked.link_device().device_id();
    return d;
  }

  // SignIn opens a connection for `d`, signs in and returns the envelopes pushed before
  // QueueEmpty (the queue as it was), unacknowledged.
  std::vector<pb::Envelope> SignIn(Device& d) {
    d.conn = Connect();
    std::vector<pb::Envelope> queued;
    const pb::Response r = Call(d.conn, AuthRequest(d.account, d.id, d.credential));
    EXPECT_EQ(r.status(), pb::OK) << StatusOf(r);
    if (r.status() != pb::OK) {
      return queued;
    }
    while (true) {
      auto p = d.conn->NextPush(kWait);
      if (!p.ok()) {
        ADD_FAILURE() << "no QueueEmpty: " << ErrorName(p.code());
        return queued;
      }
      if (p->has_queue_empty()) {
        return queued;
      }
      queued.push_back(p->envelope());
    }
  }

  // NextEnvelope waits for the next push on `d`'s connection, which must be an envelope.
  static pb::Envelope NextEnvelope(Device& d) {
    auto p = d.conn->NextPush(kWait);
    EXPECT_TRUE(p.ok()) << ErrorName(p.code());
    EXPECT_TRUE(p.ok() && p->has_envelope());
    return p.ok() ? p->envelope() : pb::Envelope();
  }

  static void ExpectNoPush(Device& d) {
    auto p = d.conn->NextPush(kShort);
    EXPECT_FALSE(p.ok()) << "unexpected push";
    if (!p.ok()) {
      EXPECT_EQ(p.code(), wire::kWaitTimedOut);
    }
  }

  static void Ack(Device& d, const std::vector<pb::Envelope>& envelopes) {
    std::vector<std::string> ids;
    for (const auto& e : envelopes) {
      ids.push_back(e.id());
    }
    const pb::Response r = Call(d.conn, AckRequest(ids));
    EXPECT_EQ(r.status(), pb::OK) << StatusOf(r);
  }

  static std::string Serialize(const crypto::X25519PublicKey& key) {
    const auto bytes = key.Serialize();
    return Bytes2String(bytes);
  }

  // SetKeysRequest makes an upload for `d` (making its identity key on first use): a signed
  // prekey signed by the identity key, and `count` one-time prekeys from `first_id` on.
  pb::Request SetKeysRequest(Device& d, uint32_t first_id, int count) {
    if (!d.identity) {
      d.identity.emplace(crypto::X25519KeyPair::Generate(rng_));
    }
    pb::Request r;
    auto* k = r.mutable_set_keys();
    k->set_identity_key(Serialize(d.identity->public_key));
    const auto spk = crypto::X25519KeyPair::Generate(rng_);
    const std::string spk_public = Serialize(spk.public_key);
    auto signature = crypto::XEdDsaSign(d.identity->private_key, AsBytes(spk_public), rng_);
    EXPECT_TRUE(signature.ok());
    k->mutable_signed_pre_key()->set_id(7);
    k->mutable_signed_pre_key()->set_public_key(spk_public);
    if (signature.ok()) {
      k->mutable_signed_pre_key()->set_signature(Bytes2String(*signature));
    }
    for (int i = 0; i < count; ++i) {
      auto* p = k->add_one_time_pre_keys();
      p->set_id(first_id + static_cast<uint32_t>(i));
      p->set_public_key(Serialize(crypto::X25519KeyPair::Generate(rng_).public_key));
    }
    return r;
  }

  void UploadKeys(Device& d, uint32_t first_id, int count) {
    const pb::Response r = Call(d.conn, SetKeysRequest(d, first_id, count));
    EXPECT_EQ(r.status(), pb::OK) << StatusOf(r);
  }

  // Advance moves the server's clock and waits for the maintenance pass it runs.
  void Advance(milliseconds ms) {
    const std::string res = Http(server_.port(), "POST", "/test/advance?ms=" + std::to_string(ms.count()));
    EXPECT_TRUE(res.starts_with("HTTP/1.1 200")) << res;
    EXPECT_EQ(HttpBody(res), "advanced\n");
  }

  // Db opens the server's database read-only, beside the running server (WAL).
  SqliteDb Db() {
    auto db = SqliteDb::Open("file:" + data_dir_ + "/holdfast.db?mode=ro");
    EXPECT_TRUE(db.ok()) << ErrorName(db.code());
    if (!db.ok()) {
      std::abort();  // nothing below can run without it
    }
    return std::move(db).value();
  }

  // Count runs a SELECT COUNT(*) whose one parameter (if any) is the blob `param`.
  int64_t Count(const std::string& sql, const std::string& param = "") {
    SqliteDb db = Db();
    auto stmt = db.Prepare(sql);
    EXPECT_TRUE(stmt.ok()) << sql;
    if (!stmt.ok()) {
      return -1;
    }
    if (!param.empty()) {
      EXPECT_TRUE(stmt->BindBlob(1, AsBytes(param)).ok());
    }
    auto row = stmt->Step();
    EXPECT_TRUE(row.ok() && *row) << sql;
    return row.ok() && *row ? stmt->ColumnInt64(0) : -1;
  }

  // WaitForCount polls until Count(sql) == want (the server commits asynchronously).
  bool WaitForCount(const std::string& sql, int64_t want, const std::string& param = "") {
    const auto deadline = SteadyClock::now() + kWait;
    while (SteadyClock::now() < deadline) {
      if (Count(sql, param) == want) {
        return true;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  }

  crypto::SystemRng rng_;
  std::string dir_;
  std::string data_dir_;
  std::string codes_file_;
  bool tls_ = false;
  testing::HoldfastdProcess server_;
};

// Suites of the same fixture, named for what they cover.
class Registration : public HoldfastdTest {};
class Linking : public HoldfastdTest {};
class PreKeys : public HoldfastdTest {};
class Messages : public HoldfastdTest {};
class SealedSender : public HoldfastdTest {};
class Retention : public HoldfastdTest {};
class BadInput : public HoldfastdTest {};
class Lifecycle : public HoldfastdTest {};
// Disclosure: the operator registers a court and a policy on the server's data directory
// while holdfastd runs, as holdfast-admin does; the court sends orders over HTTP.
class Disclosure : public HoldfastdTest {
 protected:
  void RegisterCourt() {
    now_ = ToUnixMillis(clock_.Now());
    auto registry = legal::Registry::Open(data_dir_, clock_, rng_);
    ASSERT_TRUE(registry.ok());
    registry_ = std::move(*registry);
    legal::Authority court;
    court.id = "at-court";
    court.name = "Landesgericht";
    court.country = "AT";
    court.sign_key = sign_.PublicKey();
    court.box_key = box_.PublicKey();
    court.valid_from_ms = now_ - legal::kDayMs;
    court.valid_until_ms = now_ + 365 * legal::kDayMs;
    ASSERT_TRUE(registry_->AddAuthority(court).ok());
    legal::Policy policy;
    policy.version = 1;
    policy.effective_from_ms = now_ - legal::kDayMs;
    policy.categories = {"terrorism"};
    policy.countries = {"AT"};
    policy.data_types = {legal::DataType::kPhoneNumber, legal::DataType::kIpRecords};
    policy.max_ip_window_ms = 30 * legal::kDayMs;
    ASSERT_TRUE(registry_->SetPolicy(policy).ok());
  }

  legal::Order MakeOrder(const std::string& phone) const {
    legal::Order o;
    o.order_id = "LG-7";
    o.authority_id = "at-court";
    o.legal_basis = "StPO 135";
    o.statement_of_reasons = "reasons";
    o.targets = {legal::OrderTarget{phone, {}}};
    o.category = "terrorism";
    o.data_requested = {legal::DataType::kPhoneNumber, legal::DataType::kIpRecords};
    o.ip_from_ms = now_ - legal::kDayMs;
    o.ip_to_ms = now_ + legal::kDayMs;
    o.issued_ms = now_ - 60000;
    o.valid_until_ms = now_ + 10 * legal::kDayMs;
    o.effect_report_to = "mailto:court@example.at";
    o.redress = "appeal";
    return o;
  }

  static std::string SignedFile(const legal::Order& o, const crypto::Ed25519PrivateKey& key) {
    return nlohmann::json{
        {"order", legal::OrderToJson(o)},
        {"signature", Base64Encode(key.Sign(AsBytes(legal::CanonicalOrder(o))))}}
        .dump();
  }

  SystemClock clock_;
  crypto::SystemRng rng_;
  crypto::Ed25519PrivateKey sign_ = crypto::Ed25519PrivateKey::Generate(rng_);
  crypto::X25519PrivateKey box_ = crypto::X25519PrivateKey::Generate(rng_);
  std::unique_ptr<legal::Registry> registry_;
  int64_t now_ = 0;
};

// --- Registration and sign-in --------------------------------------------------------------------

TEST_F(Registration, BadPhoneNumbersAreInvalidArgument) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto c = Connect();
  for (const char* bad : {"", "14155550123", "+0155550123", "+1415", "+1415555012345678",
                          "+1415555O123", " +14155550123"}) {
    EXPECT_EQ(StatusFor(c, RegisterRequest(bad)), pb::INVALID_ARGUMENT) << bad;
  }
  // Verify checks its fields before any code.
  EXPECT_EQ(StatusFor(c, VerifyRequest("+14155550123", "123456", RandomBytes(16), 1)),
            pb::INVALID_ARGUMENT);  // credential too short
  EXPECT_EQ(StatusFor(c, VerifyRequest("+14155550123", "123456", RandomBytes(32), 0)),
            pb::INVALID_ARGUMENT);  // registration id 0
  EXPECT_EQ(StatusFor(c, VerifyRequest("+14155550123", "12a456", RandomBytes(32), 1)),
            pb::INVALID_ARGUMENT);
}

TEST_F(Registration, WrongCodesAreCountedAndTheLimitHolds) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const std::string phone = "+14155550101";
  auto c = Connect();
  EXPECT_EQ(StatusFor(c, VerifyRequest(phone, "123456", RandomBytes(32), 1)), pb::INVALID_CODE)
      << "no code was ever sent";
  ASSERT_EQ(StatusFor(c, RegisterRequest(phone)), pb::OK);
  const std::string code = CodeFor(phone);
  ASSERT_EQ(code.size(), 6u);
  char wrong[8];
  std::snprintf(wrong, sizeof(wrong), "%06d", (std::stoi(code) + 1) % 1000000);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(StatusFor(c, VerifyRequest(phone, wrong, RandomBytes(32), 1)), pb::INVALID_CODE);
  }
  // The limit (max_code_attempts, 5) is spent: even the right code fails now, for good.
  EXPECT_EQ(StatusFor(c, VerifyRequest(phone, code, RandomBytes(32), 1)), pb::INVALID_CODE);
  EXPECT_EQ(StatusFor(c, VerifyRequest(phone, code, RandomBytes(32), 1)), pb::INVALID_CODE);
  // A new code works.
  ASSERT_EQ(StatusFor(c, RegisterRequest(phone)), pb::OK);
  const std::string fresh = CodeFor(phone);
  const pb::Response ok = Call(c, VerifyRequest(phone, fresh, RandomBytes(32), 77));
  ASSERT_EQ(ok.status(), pb::OK) << StatusOf(ok);
  EXPECT_EQ(ok.verify().account_id().size(), wire::kAccountIdBytes);
  EXPECT_EQ(ok.verify().device_id(), 1u);
  // A code is single use.
  EXPECT_EQ(StatusFor(c, VerifyRequest(phone, fresh, RandomBytes(32), 77)), pb::INVALID_CODE);
}

// A stop while credentials are being hashed. Each hashing job holds its connection, and
// must let it go before the server (whose io_contexts own the WebSocket service) is
// destroyed: holdfastd used to crash on its way out when a job ended after that.
TEST_F(Registration, StopsCleanlyWhileCredentialsAreBeingHashed) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const std::string phone = "+14155553100";
  auto c = Connect();
  ASSERT_EQ(StatusFor(c, RegisterRequest(phone)), pb::OK);
  // Every verify hashes its credential before the code is checked: these queue up behind
  // the pool's threads, far longer than the stop takes.
  constexpr int kVerifies = 100;
  for (int i = 0; i < kVerifies; ++i) {
    pb::Frame f;
    *f.mutable_request() = VerifyRequest(phone, "000000", RandomBytes(32), 1);
    f.mutable_request()->set_id(1000 + static_cast<uint64_t>(i));
    ASSERT_TRUE(c->SendBytes(wire::EncodeFrame(f)).ok());
  }
  ASSERT_EQ(Call(c, ServerInfoRequest()).status(), pb::OK);  // all of them have been read
  c.reset();  // gone, so the stop need not wait for it to close
  EXPECT_EQ(StopServer(), 0) << "holdfastd did not exit cleanly on SIGTERM";
}

TEST_F(Registration, ReRegistrationKeepsTheAccountAndDropsTheOldDevice) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Device first = Register("+14155550102");
  SignIn(first);
  ASSERT_NE(first.conn, nullptr);

  Device again = Register("+14155550102");
  EXPECT_EQ(again.account, first.account);  // stable for the phone number
  EXPECT_EQ(again.id, 1u);
  EXPECT_TRUE(WaitClosed(first.conn)) << "the old device's connection stayed open";

  auto c = Connect();
  EXPECT_EQ(StatusFor(c, AuthRequest(first.account, 1, first.credential)), pb::UNAUTHENTICATED);
  SignIn(again);
  EXPECT_EQ(StatusFor(again.conn, ServerInfoRequest()), pb::OK);
}

TEST_F(Registration, SignInNeedsTheRightCredential) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Device d = Register("+14155550103");
  auto c = Connect();
  EXPECT_EQ(StatusFor(c, AuthRequest(d.account, 1, RandomBytes(32))), pb::UNAUTHENTICATED);
  EXPECT_EQ(StatusFor(c, AuthRequest(d.account, 2, d.credential)), pb::UNAUTHENTICATED);
  EXPECT_EQ(StatusFor(c, AuthRequest(RandomBytes(16), 1, d.credential)), pb::UNAUTHENTICATED);
  EXPECT_EQ(StatusFor(c, AuthRequest(RandomBytes(15), 1, d.credential)), pb::INVALID_ARGUMENT);
  EXPECT_EQ(StatusFor(c, AuthRequest(d.account, 0, d.credential)), pb::INVALID_ARGUMENT);
  // The same connection still signs in with the right one, once.
  EXPECT_EQ(StatusFor(c, AuthRequest(d.account, 1, d.credential)), pb::OK);
  EXPECT_EQ(StatusFor(c, AuthRequest(d.account, 1, d.credential)), pb::FORBIDDEN);
}

TEST_F(Registration, RequestsNeedingSignInAreUnauthenticatedBefore) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Device d = Register("+14155550104");
  auto c = Connect();
  std::vector<pb::Request> requests(11);
  requests[0].mutable_create_link_code();
  requests[1].mutable_list_devices();
  requests[2].mutable_remove_device()->set_device_id(2);
  requests[3].mutable_lookup()->set_phone("+14155550104");
  requests[4] = SetKeysRequest(d, 1, 1);
  requests[5].mutable_pre_key_count();
  requests[6] = GetBundlesRequest(d.account, 0);
  requests[7] = SendRequest(d.account, {d.target()}, "hi");  // no access key
  requests[8] = AckRequest({RandomBytes(16)});
  requests[9].mutable_set_access_key()->set_unidentified_access_key(RandomBytes(16));
  requests[10].mutable_sender_certificate();
  for (const pb::Request& r : requests) {
    EXPECT_EQ(StatusFor(c, r), pb::UNAUTHENTICATED) << r.body_case();
  }
  // What needs no sign-in still works on the same connection.
  const pb::Response info = Call(c, ServerInfoRequest());
  EXPECT_EQ(info.status(), pb::OK);
  EXPECT_EQ(info.server_info().version(), wire::kProtocolVersion);
}

TEST_F(Registration, AuthFailureLimitCountsFailuresNotSignIns) {
  // Regression: HandleAuth used to probe the limiter under the key ip + "/probe" (a token per
  // sign-in, good or bad) and to charge failures under the key ip, which nothing checked: an
  // IP could guess without limit, and after `burst` sign-ins could not sign in at all.
  ASSERT_NO_FATAL_FAILURE(
      StartServer({{"auth_failures_per_ip", R"({"per_minute": 1, "burst": 3})"}}));
  Device d = Register("+14155550105");
  for (int i = 0; i < 5; ++i) {
    auto c = Connect();
    EXPECT_EQ(StatusFor(c, AuthRequest(d.account, 1, d.credential)), pb::OK) << "sign-in " << i;
  }
  auto guesser = Connect("127.0.0.7");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(StatusFor(guesser, AuthRequest(d.account, 1, RandomBytes(32))), pb::UNAUTHENTICATED);
  }
  const pb::Response limited = Call(guesser, AuthRequest(d.account, 1, RandomBytes(32)));
  EXPECT_EQ(limited.status(), pb::RATE_LIMITED) << StatusOf(limited);
  EXPECT_GT(limited.retry_after_ms(), 0u);
  // The spent budget stops even the right credential from that IP, and only from that IP.
  EXPECT_EQ(StatusFor(guesser, AuthRequest(d.account, 1, d.credential)), pb::RATE_LIMITED);
  auto elsewhere = Connect("127.0.0.8");
  EXPECT_EQ(StatusFor(elsewhere, AuthRequest(d.account, 1, d.credential)), pb::OK);
  // Time refills it: one failure a minute.
  Advance(milliseconds(60000));
  EXPECT_EQ(StatusFor(guesser, AuthRequest(d.account, 1, d.credential)), pb::OK);
}

// --- Linked devices ------------------------------------------------------------------------------

TEST_F(Linking, LinkListLookupAndRemove) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Device primary = Register("+14155550201");
  SignIn(primary);
  Device laptop = Link(primary);
  EXPECT_EQ(laptop.account, primary.account);
  EXPECT_EQ(laptop.id, 2u);
  SignIn(laptop);

  // A link code is single use.
  pb::Request create;
  create.mutable_create_link_code();
  const pb::Response code = Call(primary.conn, create);
  ASSERT_EQ(code.status(), pb::OK);
  EXPECT_EQ(code.create_link_code().code().size(), 20u);
  EXPECT_GT(code.create_link_code().expires_at_ms(), 0);
  pb::Request link;
  link.mutable_link_device()->set_code(code.create_link_code().code());
  link.mutable_link_device()->set_credential(RandomBytes(32));
  link.mutable_link_device()->set_registration_id(5);
  auto c = Connect();
  EXPECT_EQ(StatusFor(c, link), pb::OK);
  EXPECT_EQ(StatusFor(c, link), pb::INVALID_CODE);
  link.mutable_link_device()->set_code(std::string(20, '0'));
  EXPECT_EQ(StatusFor(c, link), pb::INVALID_CODE);

  // Only the primary links devices.
  EXPECT_EQ(StatusFor(laptop.conn, create), pb::FORBIDDEN);

  pb::Request list;
  list.mutable_list_devices();
  const pb::Response devices = Call(laptop.conn, list);
  ASSERT_EQ(devices.status(), pb::OK);
  std::set<uint32_t> ids;
  for (const auto& info : devices.list_devices().devices()) {
    ids.insert(info.device_id());
    EXPECT_GT(info.created_at_ms(), 0);
  }
  EXPECT_EQ(ids, (std::set<uint32_t>{1, 2, 3}));
  EXPECT_EQ(devices.list_devices().devices(1).name(), "laptop");

  pb::Request lookup;
  lookup.mutable_lookup()->set_phone(primary.phone);
  const pb::Response found = Call(laptop.conn, lookup);
  ASSERT_EQ(found.status(), pb::OK);
  EXPECT_EQ(found.lookup().account_id(), primary.account);
  EXPECT_EQ(found.lookup().device_ids_size(), 3);
  lookup.mutable_lookup()->set_phone("+14155550299");
  EXPECT_EQ(StatusFor(laptop.conn, lookup), pb::NOT_FOUND);

  // Something waits in the laptop's queue when the primary removes it.
  laptop.conn->Close();
  Device other = Register("+14155550202");
  SignIn(other);
  pb::Response sent = Call(
      other.conn,
      SendRequest(primary.account, {primary.target(), laptop.target(), {3, 5}}, "for everyone"));
  ASSERT_EQ(sent.status(), pb::OK) << StatusOf(sent);
  EXPECT_EQ(
      Count("SELECT COUNT(*) FROM envelopes WHERE account = ?1 AND device = 2", primary.account),
      1);
  SignIn(laptop);  // online again, with one envelope pushed
  pb::Request remove;
  remove.mutable_remove_device()->set_device_id(1);
  EXPECT_EQ(StatusFor(primary.conn, remove), pb::FORBIDDEN);  // never the primary
  remove.mutable_remove_device()->set_device_id(3);
  EXPECT_EQ(StatusFor(laptop.conn, remove), pb::FORBIDDEN);  // a linked device only itself
  remove.mutable_remove_device()->set_device_id(2);
  EXPECT_EQ(StatusFor(primary.conn, remove), pb::OK);
  EXPECT_TRUE(WaitClosed(laptop.conn)) << "the removed device's connection stayed open";
  EXPECT_EQ(
      Count("SELECT COUNT(*) FROM envelopes WHERE account = ?1 AND device = 2", primary.account),
      0);
  EXPECT_EQ(StatusFor(primary.conn, remove), pb::NOT_FOUND);
  auto again = Connect();
  EXPECT_EQ(StatusFor(again, AuthRequest(laptop.account, 2, laptop.credential)),
            pb::UNAUTHENTICATED);
  const pb::Response after = Call(primary.conn, list);
  EXPECT_EQ(after.list_devices().devices_size(), 2);
}

TEST_F(Linking, MostLinkedDevicesIsLimitReached) {
  ASSERT_NO_FATAL_FAILURE(StartServer({{"max_linked_devices", "2"}}));
  Device primary = Register("+14155550203");
  SignIn(primary);
  Device two = Link(primary);
  Device three = Link(primary);
  EXPECT_EQ(two.id, 2u);
  EXPECT_EQ(three.id, 3u);

  pb::Request create;
  create.mutable_create_link_code();
  const pb::Response code = Call(primary.conn, create);
  ASSERT_EQ(code.status(), pb::OK);
  pb::Request link;
  link.mutable_link_device()->set_code(code.create_link_code().code());
  link.mutable_link_device()->set_credential(RandomBytes(32));
  link.mutable_link_device()->set_registration_id(9);
  auto c = Connect();
  EXPECT_EQ(StatusFor(c, link), pb::LIMIT_REACHED);
  // The code is kept: after a removal it links.
  pb::Request remove;
  remove.mutable_remove_device()->set_device_id(3);
  ASSERT_EQ(StatusFor(primary.conn, remove), pb::OK);
  const pb::Response linked = Call(c, link);
  EXPECT_EQ(linked.status(), pb::OK) << StatusOf(linked);
  EXPECT_NE(linked.link_device().device_id(), 3u);  // ids are not reused
}

// --- Prekeys -----------------------------------------------------------------------------------

TEST_F(PreKeys, UploadCountAndConsume) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Device alice = Register("+14155550301");
  Device bob = Register("+14155550302");
  SignIn(alice);
  SignIn(bob);

  // The first upload must carry the identity key.
  pb::Request no_identity = SetKeysRequest(alice, 1, 1);
  no_identity.mutable_set_keys()->clear_identity_key();
  EXPECT_EQ(StatusFor(alice.conn, no_identity), pb::INVALID_ARGUMENT);
  // A signed prekey must be signed by the identity key.
  pb::Request forged = SetKeysRequest(alice, 1, 1);
  forged.mutable_set_keys()->mutable_signed_pre_key()->set_signature(RandomBytes(64));
  EXPECT_EQ(StatusFor(alice.conn, forged), pb::INVALID_ARGUMENT);
  Device mallory;
  pb::Request other_signer = SetKeysRequest(mallory, 1, 1);
  other_signer.mutable_set_keys()->set_identity_key(Serialize(alice.identity->public_key));
  EXPECT_EQ(StatusFor(alice.conn, other_signer), pb::INVALID_ARGUMENT);
  pb::Request bad_key = SetKeysRequest(alice, 1, 1);
  bad_key.mutable_set_keys()->mutable_one_time_pre_keys(0)->set_public_key(RandomBytes(32));
  EXPECT_EQ(StatusFor(alice.conn, bad_key), pb::INVALID_ARGUMENT);
  pb::Request too_many = SetKeysRequest(alice, 1, 101);
  EXPECT_EQ(StatusFor(alice.conn, too_many), pb::INVALID_ARGUMENT);

  pb::Request count;
  count.mutable_pre_key_count();
  EXPECT_EQ(Call(alice.conn, count).pre_key_count().count(), 0u);  // nothing was stored
  EXPECT_EQ(StatusFor(bob.conn, GetBundlesRequest(alice.account, 0)), pb::NOT_FOUND);

  UploadKeys(alice, 100, 3);
  EXPECT_EQ(Call(alice.conn, count).pre_key_count().count(), 3u);

  std::set<uint32_t> taken;
  for (int i = 0; i < 3; ++i) {
    const pb::Response r = Call(bob.conn, GetBundlesRequest(alice.account, 0));
    ASSERT_EQ(r.status(), pb::OK) << StatusOf(r);
    ASSERT_EQ(r.get_bundles().bundles_size(), 1);
    const pb::Bundle& b = r.get_bundles().bundles(0);
    EXPECT_EQ(b.device_id(), 1u);
    EXPECT_EQ(b.registration_id(), alice.registration_id);
    EXPECT_EQ(b.identity_key(), Serialize(alice.identity->public_key));
    ASSERT_TRUE(b.has_one_time_pre_key());
    taken.insert(b.one_time_pre_key().id());
    // The signed prekey verifies against the identity key, as a client checks it.
    EXPECT_TRUE(crypto::XEdDsaVerify(alice.identity->public_key,
                                     AsBytes(b.signed_pre_key().public_key()),
                                     AsBytes(b.signed_pre_key().signature()))
                    .ok());
    EXPECT_EQ(Call(alice.conn, count).pre_key_count().count(), static_cast<uint32_t>(2 - i));
  }
  EXPECT_EQ(taken, (std::set<uint32_t>{100, 101, 102}));
  // None left: the bundle comes without one.
  const pb::Response empty = Call(bob.conn, GetBundlesRequest(alice.account, 1));
  ASSERT_EQ(empty.status(), pb::OK);
  ASSERT_EQ(empty.get_bundles().bundles_size(), 1);
  EXPECT_FALSE(empty.get_bundles().bundles(0).has_one_time_pre_key());
  EXPECT_TRUE(empty.get_bundles().bundles(0).has_signed_pre_key());

  EXPECT_EQ(StatusFor(bob.conn, GetBundlesRequest(alice.account, 2)), pb::NOT_FOUND);
  EXPECT_EQ(StatusFor(bob.conn, GetBundlesRequest(RandomBytes(16), 0)), pb::NOT_FOUND);
  EXPECT_EQ(StatusFor(bob.conn, GetBundlesRequest("short", 0)), pb::INVALID_ARGUMENT);
}

TEST_F(PreKeys, ConcurrentFetchersGetDifferentKeys) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Device alice = Register("+14155550303");
  SignIn(alice);
  constexpr int kKeys = 20;
  UploadKeys(alice, 1, kKeys);
  Device fetchers[2] = {Register("+14155550304"), Register("+14155550305")};
  for (Device& f : fetchers) {
    SignIn(f);
    ASSERT_NE(f.conn, nullptr);
  }
  std::vector<uint32_t> got[2];
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kKeys / 2; ++i) {
        auto r = fetchers[t].conn->Call(GetBundlesRequest(alice.account, 1));
        if (!r.ok() || r->status() != pb::OK || r->get_bundles().bundles_size() != 1 ||
            !r->get_bundles().bundles(0).has_one_time_pre_key()) {
          ++failures;
          continue;
        }
        got[t].push_back(r->get_bundles().bundles(0).one_time_pre_key().id());
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  std::set<uint32_t> all(got[0].begin(), got[0].end());
  all.insert(got[1].begin(), got[1].end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kKeys)) << "a one-time prekey was handed out twice";
  const pb::Response none = Call(fetchers[0].conn, GetBundlesRequest(alice.account, 1));
  ASSERT_EQ(none.get_bundles().bundles_size(), 1);
  EXPECT_FALSE(none.get_bundles().bundles(0).has_one_time_pre_key());
}

// --- Messages ----------------------------------------------------------------------------------

TEST_F(Messages, OnlineDeliveryAndAck) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Device alice = Register("+14155550401");
  Device bob = Register("+14155550402");
  SignIn(alice);
  EXPECT_TRUE(SignIn(bob).empty());

  const pb::Response sent = Call(alice.conn, SendRequest(bob.account, {bob.target()}, "hello bob"));
  ASSERT_EQ(sent.status(), pb::OK) << StatusOf(sent);
  ASSERT_EQ(sent.send().envelope_ids_size(), 1);
  const pb::Envelope e = NextEnvelope(bob);
  EXPECT_EQ(e.id(), sent.send().envelope_ids(0));
  EXPECT_EQ(e.id().size(), wire::kEnvelopeIdBytes);
  EXPECT_EQ(e.content(), "hello bob");
  EXPECT_EQ(e.type(), pb::CIPHERTEXT);
  EXPECT_EQ(e.source_account(), alice.account);
  EXPECT_EQ(e.source_device(), 1u);
  EXPECT_EQ(e.client_timestamp(), 1700000000000);
  EXPECT_GT(e.server_timestamp(), 0);
  Ack(bob, {e});
  ExpectNoPush(bob);

  bob.conn->Close();
  EXPECT_TRUE(SignIn(bob).empty()) << "an acknowledged envelope came again";

  // Bad acks.
  EXPECT_EQ(StatusFor(bob.conn, AckRequest({})), pb::INVALID_ARGUMENT);
  EXPECT_EQ(StatusFor(bob.conn, AckRequest({"short"})), pb::INVALID_ARGUMENT);
  EXPECT_EQ(StatusFor(bob.conn, AckRequest({RandomBytes(16)})), pb::OK);  // unknown: nothing to do
}

TEST_F(Messages, OfflineQueueDrainsInOrderUntilAcked) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Device alice = Register("+14155550403");
  Device bob = Register("+14155550404");
  SignIn(alice);
  constexpr int kMessages = 5;
  for (int i = 0; i < kMessages; ++i) {
    const pb::Response r =
        Call(alice.conn, SendRequest(bob.account, {bob.target()}, "m" + std::to_string(i)));
    ASSERT_EQ(r.status(), pb::OK) << StatusOf(r);
  }
  std::vector<pb::Envelope> queued = SignIn(bob);
  ASSERT_EQ(queued.size(), static_cast<size_t>(kMessages));
  std::set<std::string> tails;
  for (int i = 0; i < kMessages; ++i) {
    EXPECT_EQ(queued[i].content(), "m" + std::to_string(i));
    // An id starts with the server's clock in milliseconds (48 bits, big-endian), as a UUIDv7
    // does, and ends in 10 random bytes.
    const std::string& id = queued[i].id();
    ASSERT_EQ(id.size(), wire::kEnvelopeIdBytes);
    int64_t ms = 0;
    for (size_t b = 0; b < wire::kEnvelopeIdClockBytes; ++b) {
      ms = ms << 8 | static_cast<uint8_t>(id[b]);
    }
    EXPECT_EQ(ms, queued[i].server_timestamp()) << i;
    tails.insert(id.substr(wire::kEnvelopeIdClockBytes));
  }
  EXPECT_EQ(tails.size(), static_cast<size_t>(kMessages)) << "the random part repeated";
  // Not acknowledged: a new connection (which closes the old one) gets them again.
  std::unique_ptr<wire::Client> old = std::move(bob.conn);
  std::vector<pb::Envelope> again = SignIn(bob);
  EXPECT_TRUE(WaitClosed(old)) << "a newer connection for the device did not close the older";
  ASSERT_EQ(again.size(), static_cast<size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) {
    EXPECT_EQ(again[i].id(), queued[i].id());
  }
  // Acknowledge two, reconnect: only the other three; acknowledge them: nothing, ever.
  Ack(bob, {again[0], again[1]});
  bob.conn->Close();
  std::vector<pb::Envelope> rest = SignIn(bob);
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[0].id(), queued[2].id());
  Ack(bob, rest);
  // New messages while online come after QueueEmpty, once.
  const pb::Response live = Call(alice.conn, SendRequest(bob.account, {bob.target()}, "live"));
  ASSERT_EQ(live.status(), pb::OK);
  const pb::Envelope e = NextEnvelope(bob);
  EXPECT_EQ(e.content(), "live");
  Ack(bob, {e});
  for (int round = 0; round < 2; ++round) {
    bob.conn->Close();
    EXPECT_TRUE(SignIn(bob).empty()) << "round " << round;
  }
  EXPECT_EQ(Count("SELECT COUNT(*) FROM envelopes"), 0);
}

TEST_F(Messages, MismatchedAndStaleDevices) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Device alice = Register("+14155550405");
  Device bob = Register("+14155550406");
  SignIn(alice);
  SignIn(bob);
  Device bob2 = Link(bob);
  ASSERT_EQ(bob2.id, 2u);

  pb::Response r = Call(alice.conn, SendRequest(bob.account, {bob.target()}, "x"));
  ASSERT_EQ(r.status(), pb::MISMATCHED_DEVICES);
  EXPECT_EQ(std::vector<uint32_t>(r.mismatched_devices().missing().begin(),
                                  r.mismatched_devices().missing().end()),
            std::vector<uint32_t>{2});
  EXPECT_EQ(r.mismatched_devices().extra_size(), 0);

  r = Call(alice.conn, SendRequest(bob.account, {bob.target(), bob2.target(), {5, 1}}, "x"));
  ASSERT_EQ(r.status(), pb::MISMATCHED_DEVICES);
  EXPECT_EQ(r.mismatched_devices().missing_size(), 0);
  EXPECT_EQ(std::vector<uint32_t>(r.mismatched_devices().extra().begin(),
                                  r.mismatched_devices().extra().end()),
            std::vector<uint32_t>{5});

  const uint32_t wrong = bob2.registration_id % wire::kMaxRegistrationId + 1;
  r = Call(alice.conn, SendRequest(bob.account, {bob.target(), {2, wrong}}, "x"));
  ASSERT_EQ(r.status(), pb::STALE_DEVICES);
  EXPECT_EQ(
      std::vector<uint32_t>(r.stale_devices().stale().begin(), r.stale_devices().stale().end()),
      std::vector<uint32_t>{2});

  // Nothing of the refused sends was stored.
  ExpectNoPush(bob);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM envelopes"), 0);

  r = Call(alice.conn, SendRequest(bob.account, {bob.target(), bob2.target()}, "both"));
  ASSERT_EQ(r.status(), pb::OK) << StatusOf(r);
  EXPECT_EQ(r.send().envelope_ids_size(), 2);
  EXPECT_EQ(NextEnvelope(bob).content(), "both");
  SignIn(bob2);  // ...and bob2's queue held its copy
  EXPECT_EQ(StatusFor(alice.conn, SendRequest(RandomBytes(16), {Target{1, 1}}, "x")),
            pb::NOT_FOUND);
  EXPECT_EQ(StatusFor(alice.conn, SendRequest(bob.account, {bob.target(), bob.target()}, "x")),
            pb::INVALID_ARGUMENT);  // a device twice
  EXPECT_EQ(StatusFor(alice.conn, SendRequest(bob.account, {bob.target(), bob2.target()}, "")),
            pb::INVALID_ARGUMENT);  // empty content
}

TEST_F(Messages, SyncToOwnOtherDevices) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Device phone = Register("+14155550407");
  SignIn(phone);
  Device laptop = Link(phone);
  SignIn(laptop);

  // To one's own account: every device except the sending one.
  pb::Response r =
      Call(phone.conn, SendRequest(phone.account, {phone.target(), laptop.target()}, "x"));
  ASSERT_EQ(r.status(), pb::MISMATCHED_DEVICES);
  EXPECT_EQ(r.mismatched_devices().extra_size(), 1);
  EXPECT_EQ(r.mismatched_devices().extra(0), 1u);
  r = Call(phone.conn, SendRequest(phone.account, {laptop.target()}, "sync"));
  ASSERT_EQ(r.status(), pb::OK) << StatusOf(r);
  const pb::Envelope e = NextEnvelope(laptop);
  EXPECT_EQ(e.content(), "sync");
  EXPECT_EQ(e.source_account(), phone.account);
  EXPECT_EQ(e.source_device(), 1u);
  ExpectNoPush(phone);
}

TEST_F(Messages, QueueLimitIsQueueFull) {
  ASSERT_NO_FATAL_FAILURE(StartServer({{"max_queue_per_device", "3"}}));
  Device alice = Register("+14155550408");
  Device bob = Register("+14155550409");
  SignIn(alice);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(StatusFor(alice.conn, SendRequest(bob.account, {bob.target()}, "x")), pb::OK);
  }
  EXPECT_EQ(StatusFor(alice.conn, SendRequest(bob.account, {bob.target()}, "x")), pb::QUEUE_FULL);
  std::vector<pb::Envelope> queued = SignIn(bob);
  ASSERT_EQ(queued.size(), 3u);
  Ack(bob, {queued[0]});
  EXPECT_EQ(StatusFor(alice.conn, SendRequest(bob.account, {bob.target()}, "room")), pb::OK);
  EXPECT_EQ(StatusFor(alice.conn, SendRequest(bob.account, {bob.target()}, "x")), pb::QUEUE_FULL);
}

TEST_F(Messages, QueueLimitHoldsWhileOtherAccountsChangeDevices) {
  // Removing a device and re-registering clear the server's cache of queue depths; they did
  // so from the connection's thread while sends update it on the database thread (a data
  // race, seen by ThreadSanitizer). The limit must hold throughout.
  constexpr int kLimit = 60;
  ASSERT_NO_FATAL_FAILURE(StartServer({{"max_queue_per_device", std::to_string(kLimit)}}));
  Device alice = Register("+14155550412");
  Device bob = Register("+14155550413");
  Device carol = Register("+14155550414");
  SignIn(alice);
  SignIn(carol);
  ASSERT_NE(alice.conn, nullptr);
  ASSERT_NE(carol.conn, nullptr);

  std::atomic<bool> sending{true};
  std::thread churn([&] {
    // Link and remove devices, and re-register another number, while alice sends.
    for (int i = 0; i < 10 && sending; ++i) {
      Device linked = Link(carol);
      pb::Request remove;
      remove.mutable_remove_device()->set_device_id(linked.id);
      EXPECT_EQ(StatusFor(carol.conn, remove), pb::OK);
      Register("+14155550415");
    }
  });
  int ok = 0;
  int full = 0;
  for (int i = 0; i < kLimit + 10; ++i) {
    const pb::Status st = StatusFor(alice.conn, SendRequest(bob.account, {bob.target()}, "x"));
    ok += st == pb::OK ? 1 : 0;
    full += st == pb::QUEUE_FULL ? 1 : 0;
  }
  sending = false;
  churn.join();
  EXPECT_EQ(ok, kLimit);
  EXPECT_EQ(full, 10);
  EXPECT_EQ(SignIn(bob).size(), static_cast<size_t>(kLimit));
}

TEST_F(Messages, OversizedEnvelopeIsTooLarge) {
  ASSERT_NO_FATAL_FAILURE(StartServer({{"max_envelope_bytes", "1024"}}));
  Device alice = Register("+14155550410");
  Device bob = Register("+14155550411");
  SignIn(alice);
  EXPECT_EQ(Call(alice.conn, ServerInfoRequest()).server_info().max_envelope_bytes(), 1024u);
  EXPECT_EQ(StatusFor(alice.conn, SendRequest(bob.account, {bob.target()}, std::string(1025, 'x'))),
            pb::TOO_LARGE);
  EXPECT_EQ(StatusFor(alice.conn, SendRequest(bob.account, {bob.target()}, std::string(1024, 'x'))),
            pb::OK);
  std::vector<pb::Envelope> queued = SignIn(bob);
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].content().size(), 1024u);
}

// --- Sealed sender -----------------------------------------------------------------------------

TEST_F(SealedSender, AccessKeySendsCarryNoSender) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Device bob = Register("+14155550501");
  SignIn(bob);
  const std::string key = RandomBytes(wire::kAccessKeyBytes);
  pb::Request set;
  set.mutable_set_access_key()->set_unidentified_access_key(key);
  ASSERT_EQ(StatusFor(bob.conn, set), pb::OK);
  set.mutable_set_access_key()->set_unidentified_access_key(RandomBytes(15));
  EXPECT_EQ(StatusFor(bob.conn, set), pb::INVALID_ARGUMENT);

  auto anonymous = Connect();  // never signs in
  pb::Request sealed = SendRequest(bob.account, {bob.target()}, "sealed", pb::UNIDENTIFIED_SENDER);
  sealed.mutable_send()->set_unidentified_access_key(key);
  const pb::Response r = Call(anonymous, sealed);
  ASSERT_EQ(r.status(), pb::OK) << StatusOf(r);
  const pb::Envelope e = NextEnvelope(bob);
  EXPECT_EQ(e.content(), "sealed");
  EXPECT_EQ(e.type(), pb::UNIDENTIFIED_SENDER);
  EXPECT_TRUE(e.source_account().empty());
  EXPECT_EQ(e.source_device(), 0u);
  // Nor does the stored row name one.
  EXPECT_EQ(Count("SELECT COUNT(*) FROM envelopes WHERE length(source_account) > 0 OR "
                  "source_device != 0"),
            0);
  Ack(bob, {e});

  // A wrong key, or any key for an account that does not exist: the same answer.
  sealed.mutable_send()->set_unidentified_access_key(RandomBytes(wire::kAccessKeyBytes));
  EXPECT_EQ(StatusFor(anonymous, sealed), pb::UNAUTHENTICATED);
  pb::Request nobody = sealed;
  nobody.mutable_send()->set_destination(RandomBytes(16));
  EXPECT_EQ(StatusFor(anonymous, nobody), pb::UNAUTHENTICATED);
  sealed.mutable_send()->set_unidentified_access_key(RandomBytes(8));
  EXPECT_EQ(StatusFor(anonymous, sealed), pb::INVALID_ARGUMENT);
  ExpectNoPush(bob);
}

TEST_F(SealedSender, AccountWithoutAccessKeyRefusesSealedSends) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Device bob = Register("+14155550502");
  auto anonymous = Connect();
  pb::Request sealed = SendRequest(bob.account, {bob.target()}, "x", pb::UNIDENTIFIED_SENDER);
  sealed.mutable_send()->set_unidentified_access_key(std::string(16, '\0'));
  EXPECT_EQ(StatusFor(anonymous, sealed), pb::UNAUTHENTICATED);
}

TEST_F(SealedSender, SenderCertificateVerifiesWithTheServerKey) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Device alice = Register("+14155550503");
  SignIn(alice);
  pb::Request cert_request;
  cert_request.mutable_sender_certificate();
  EXPECT_EQ(StatusFor(alice.conn, cert_request), pb::NOT_FOUND);  // no identity key yet
  UploadKeys(alice, 1, 1);

  const pb::Response info = Call(alice.conn, ServerInfoRequest());
  ASSERT_EQ(info.status(), pb::OK);
  auto server_key =
      crypto::Ed25519PublicKey::FromBytes(AsBytes(info.server_info().certificate_public_key()));
  ASSERT_TRUE(server_key.ok());

  const pb::Response r = Call(alice.conn, cert_request);
  ASSERT_EQ(r.status(), pb::OK) << StatusOf(r);
  const pb::SenderCertificate& sc = r.sender_certificate().certificate();
  EXPECT_TRUE(
      crypto::Ed25519Verify(*server_key, AsBytes(sc.certificate()), AsBytes(sc.signature())).ok());
  std::string tampered = sc.certificate();
  tampered.back() ^= 1;
  EXPECT_FALSE(crypto::Ed25519Verify(*server_key, AsBytes(tampered), AsBytes(sc.signature())).ok());

  pb::SenderCertificate::Certificate c;
  ASSERT_TRUE(c.ParseFromString(sc.certificate()));
  EXPECT_EQ(c.account_id(), alice.account);
  EXPECT_EQ(c.device_id(), 1u);
  EXPECT_EQ(c.phone(), alice.phone);
  EXPECT_EQ(c.identity_key(), Serialize(alice.identity->public_key));
  EXPECT_EQ(c.key_id(), info.server_info().certificate_key_id());
  const int64_t now_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  EXPECT_GT(c.expires_ms(), now_ms);
}

// --- TTL and IP retention, through the test clock -------------------------------------------

TEST_F(Retention, EnvelopesExpireAfterTheirTtl) {
  ASSERT_NO_FATAL_FAILURE(StartServer({{"envelope_ttl_ms", "60000"}}));
  Device alice = Register("+14155550601");
  Device bob = Register("+14155550602");
  SignIn(alice);
  ASSERT_EQ(StatusFor(alice.conn, SendRequest(bob.account, {bob.target()}, "old")), pb::OK);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM envelopes"), 1);
  Advance(milliseconds(59000));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM envelopes"), 1);
  ASSERT_EQ(StatusFor(alice.conn, SendRequest(bob.account, {bob.target()}, "new")), pb::OK);
  Advance(milliseconds(2000));  // the first is 61 s old, the second 2 s
  EXPECT_EQ(Count("SELECT COUNT(*) FROM envelopes"), 1);
  std::vector<pb::Envelope> queued = SignIn(bob);
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].content(), "new");
  const std::string metrics = HttpBody(Http(server_.port(), "GET", "/metrics"));
  EXPECT_NE(metrics.find("holdfast_envelopes_expired_total 1"), std::string::npos) << metrics;
}

TEST_F(Retention, IpRecordsArePurgedAfterRetention) {
  ASSERT_NO_FATAL_FAILURE(StartServer({{"ip_retention_ms", "60000"}}));
  Device alice = Register("+14155550603");
  Device bob = Register("+14155550604");
  SignIn(alice);  // stays connected throughout
  // Bob connects from another loopback address.
  bob.conn = Connect("127.0.0.5");
  ASSERT_EQ(StatusFor(bob.conn, AuthRequest(bob.account, 1, bob.credential)), pb::OK);
  auto pushed = bob.conn->NextPush(kWait);  // QueueEmpty: the record was written before it
  ASSERT_TRUE(pushed.ok() && pushed->has_queue_empty());

  const std::string kOpen = "SELECT COUNT(*) FROM ip_records WHERE account = ?1 AND end_ms IS NULL";
  EXPECT_EQ(Count("SELECT COUNT(*) FROM ip_records WHERE account = ?1 AND ip = '127.0.0.1'",
                  alice.account),
            1);
  EXPECT_EQ(
      Count("SELECT COUNT(*) FROM ip_records WHERE account = ?1 AND ip = '127.0.0.5'", bob.account),
      1);
  EXPECT_EQ(Count(kOpen, bob.account), 1);
  bob.conn->Close();
  EXPECT_TRUE(WaitForCount(kOpen, 0, bob.account)) << "the record was not closed";

  Advance(milliseconds(59000));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM ip_records WHERE account = ?1", bob.account), 1);
  Advance(milliseconds(2000));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM ip_records WHERE account = ?1", bob.account), 0);
  // A connection still open keeps its record, however old.
  EXPECT_EQ(Count(kOpen, alice.account), 1);
  EXPECT_NE(HttpBody(Http(server_.port(), "GET", "/metrics")).find("holdfast_ip_records_purged_total 1"),
            std::string::npos);
}

// --- Bad input ---------------------------------------------------------------------------------

// ReadResponse reads the next message on `c` as a response frame.
pb::Response ReadResponse(const std::unique_ptr<wire::Client>& c) {
  auto bytes = c->ReadBytes(kWait);
  EXPECT_TRUE(bytes.ok()) << ErrorName(bytes.code());
  if (!bytes.ok()) {
    return pb::Response();
  }
  auto frame = wire::DecodeFrame(*bytes);
  EXPECT_TRUE(frame.ok() && frame->has_response());
  return frame.ok() ? frame->response() : pb::Response();
}

TEST_F(BadInput, MalformedFramesAreAnsweredAndTheConnectionLives) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto c = Connect();
  ASSERT_NE(c, nullptr);

  const uint8_t garbage[] = {0xff, 0xff, 0xff, 0x01, 0x02};
  ASSERT_TRUE(c->SendBytes(garbage).ok());
  pb::Response r = ReadResponse(c);
  EXPECT_EQ(r.status(), pb::MALFORMED);
  EXPECT_EQ(r.id(), 0u);

  ASSERT_TRUE(c->SendBytes({}).ok());  // an empty frame has no kind
  EXPECT_EQ(ReadResponse(c).status(), pb::MALFORMED);

  ASSERT_TRUE(c->SendText("{\"request\": 1}").ok());
  EXPECT_EQ(ReadResponse(c).status(), pb::MALFORMED);

  pb::Frame push;
  push.mutable_push()->mutable_queue_empty();
  ASSERT_TRUE(c->SendBytes(wire::EncodeFrame(push)).ok());  // clients send requests only
  EXPECT_EQ(ReadResponse(c).status(), pb::MALFORMED);

  pb::Frame v2;
  v2.set_version(2);
  v2.mutable_request()->set_id(4242);
  v2.mutable_request()->mutable_server_info();
  ASSERT_TRUE(c->SendBytes(AsBytes(v2.SerializeAsString())).ok());
  r = ReadResponse(c);
  EXPECT_EQ(r.status(), pb::UNSUPPORTED_VERSION);
  EXPECT_EQ(r.id(), 4242u);

  EXPECT_EQ(StatusFor(c, pb::Request()), pb::UNKNOWN_REQUEST);  // no body
  EXPECT_EQ(StatusFor(c, ServerInfoRequest()), pb::OK);
  EXPECT_FALSE(c->closed());
  EXPECT_NE(HttpBody(Http(server_.port(), "GET", "/metrics")).find("holdfast_bad_frames_total 4"),
            std::string::npos);
}

TEST_F(BadInput, FloodIsRateLimitedPerConnection) {
  ASSERT_NO_FATAL_FAILURE(
      StartServer({{"requests_per_connection", R"({"per_minute": 60, "burst": 5})"}}));
  auto flood = Connect();
  int ok = 0;
  pb::Response limited;
  for (int i = 0; i < 20; ++i) {
    const pb::Response r = Call(flood, ServerInfoRequest());
    if (r.status() == pb::OK) {
      ++ok;
    } else {
      limited = r;
      break;
    }
  }
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(limited.status(), pb::RATE_LIMITED);
  EXPECT_GT(limited.retry_after_ms(), 0u);
  // Another connection has its own budget.
  auto other = Connect();
  EXPECT_EQ(StatusFor(other, ServerInfoRequest()), pb::OK);
  // Time refills the bucket.
  Advance(milliseconds(2000));
  EXPECT_EQ(StatusFor(flood, ServerInfoRequest()), pb::OK);
}

TEST_F(BadInput, SlowClientsAreDroppedAfterTheHandshakeTimeout) {
  ASSERT_NO_FATAL_FAILURE(StartServer({{"handshake_timeout_ms", "500"}}));
  const int silent = ConnectTcp(server_.port());
  const int partial = ConnectTcp(server_.port());
  ASSERT_GE(silent, 0);
  ASSERT_GE(partial, 0);
  EXPECT_TRUE(SendAll(partial, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: webs"));
  const auto start = SteadyClock::now();

  // Meanwhile a well-behaved client is served.
  auto good = Connect();
  EXPECT_EQ(StatusFor(good, ServerInfoRequest()), pb::OK);

  for (int fd : {silent, partial}) {
    bool eof = false;
    ReadUntilEof(fd, kWait, &eof);
    EXPECT_TRUE(eof) << "a slow client was kept";
    ::close(fd);
  }
  const auto took = SteadyClock::now() - start;
  EXPECT_GE(took, milliseconds(300));
  EXPECT_LT(took, milliseconds(4000));
  // The well-behaved connection outlived the handshake timeout.
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(StatusFor(good, ServerInfoRequest()), pb::OK);
}

TEST_F(BadInput, OversizedWebSocketMessageClosesOnlyThatConnection) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto big = Connect();
  auto bystander = Connect();
  ASSERT_NE(big, nullptr);
  const Bytes huge(wire::kMaxFrameBytes + 1, 0x0a);
  (void)big->SendBytes(huge);  // the server may close before it has read it all
  auto read = big->ReadBytes(kWait);
  EXPECT_FALSE(read.ok());
  if (!read.ok()) {
    EXPECT_EQ(read.code(), ErrorCode::kUnavailable);
  }
  EXPECT_TRUE(big->closed());
  EXPECT_EQ(StatusFor(bystander, ServerInfoRequest()), pb::OK);
  // Exactly at the limit is read (and refused as a frame, with the connection kept).
  auto edge = Connect();
  const Bytes limit(wire::kMaxFrameBytes, 0xff);
  ASSERT_TRUE(edge->SendBytes(limit).ok());
  EXPECT_EQ(ReadResponse(edge).status(), pb::MALFORMED);
  EXPECT_EQ(StatusFor(edge, ServerInfoRequest()), pb::OK);
}

TEST_F(BadInput, HealthAndMetrics) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const std::string health = Http(server_.port(), "GET", "/healthz");
  EXPECT_TRUE(health.starts_with("HTTP/1.1 200")) << health;
  EXPECT_EQ(HttpBody(health), "ok\n");
  const std::string metrics = Http(server_.port(), "GET", "/metrics");
  EXPECT_TRUE(metrics.starts_with("HTTP/1.1 200")) << metrics;
  EXPECT_NE(metrics.find("holdfast_envelopes_in_total"), std::string::npos);
  EXPECT_TRUE(Http(server_.port(), "GET", "/nothing").starts_with("HTTP/1.1 404"));
  EXPECT_TRUE(Http(server_.port(), "POST", "/test/advance?ms=-5").starts_with("HTTP/1.1 400"));
  EXPECT_TRUE(Http(server_.port(), "POST", "/test/advance?ms=1x").starts_with("HTTP/1.1 400"));
}

// --- Lawful disclosure over HTTP --------------------------------------------------------------

TEST_F(Disclosure, OrdersOverHttpTheLogAndTheReport) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  EXPECT_TRUE(Http(server_.port(), "GET", "/tlog/checkpoint").starts_with("HTTP/1.1 404"));
  Device suspect = Register("+43660000001");
  SignIn(suspect);  // one connection: one IP record
  ASSERT_NO_FATAL_FAILURE(RegisterCourt());
  legal::Order o = MakeOrder("+43660000001");
  auto file = [&](const crypto::Ed25519PrivateKey& key) { return SignedFile(o, key); };
  auto& sign = sign_;
  auto& box = box_;
  auto& registry = registry_;
  const int64_t now = now_;

  // Anonymous junk and forgeries are answered and not logged.
  const std::string junk = HttpPost(server_.port(), "/orders", "{not json");
  EXPECT_TRUE(junk.starts_with("HTTP/1.1 400")) << junk;
  EXPECT_EQ(nlohmann::json::parse(HttpBody(junk))["error"], "malformed");
  const std::string forged =
      HttpPost(server_.port(), "/orders", file(crypto::Ed25519PrivateKey::Generate(rng_)));
  EXPECT_TRUE(forged.starts_with("HTTP/1.1 403")) << forged;
  EXPECT_EQ(nlohmann::json::parse(HttpBody(forged))["error"], "bad_signature");

  const std::string res = HttpPost(server_.port(), "/orders", file(sign));
  ASSERT_TRUE(res.starts_with("HTTP/1.1 200")) << res;
  const auto answer = nlohmann::json::parse(HttpBody(res));
  EXPECT_EQ(answer["decision"], "fulfilled");
  EXPECT_EQ(answer["log_index"], 2);
  auto sealed = Base64Decode(answer["package"].get<std::string>());
  ASSERT_TRUE(sealed.ok());
  auto pkg = legal::OpenPackage(*sealed, box, registry->OperatorKey());
  ASSERT_TRUE(pkg.ok());
  const auto& target = (*pkg)["targets"][0];
  EXPECT_EQ(target["phone_number"], "+43660000001");
  ASSERT_GE(target["ip_records"].size(), 1u);
  EXPECT_EQ(target["ip_records"][0]["ip"], "127.0.0.1");
  // The same order again: the first decision, nothing written.
  const auto again = nlohmann::json::parse(HttpBody(HttpPost(server_.port(), "/orders", file(sign))));
  EXPECT_EQ(again["replayed"], true);
  EXPECT_EQ(again["log_index"], 2);

  // The log: three entries (authority, policy, one decision), served as C2SP tiles.
  const std::string checkpoint = Http(server_.port(), "GET", "/tlog/checkpoint");
  ASSERT_TRUE(checkpoint.starts_with("HTTP/1.1 200")) << checkpoint;
  EXPECT_TRUE(HttpBody(checkpoint).starts_with("holdfast/transparency\n3\n")) << checkpoint;
  EXPECT_TRUE(Http(server_.port(), "GET", "/tlog/tile/entries/000.p/3").starts_with("HTTP/1.1 200"));
  EXPECT_TRUE(Http(server_.port(), "GET", "/tlog/tile/../../holdfast.db").starts_with("HTTP/1.1 404"));
  EXPECT_TRUE(Http(server_.port(), "GET", "/tlog/tile/0/%2e%2e").starts_with("HTTP/1.1 404"));

  // The report, computed from the log.
  const std::string year = legal::FormatTime(now).substr(0, 4);
  const std::string next = std::to_string(std::stoi(year) + 1);
  const std::string report = Http(
      server_.port(), "GET", "/tlog/transparency/report-" + year + "-01-01-" + next + "-01-01.json");
  ASSERT_TRUE(report.starts_with("HTTP/1.1 200")) << report;
  const auto r = nlohmann::json::parse(HttpBody(report));
  EXPECT_EQ(r["total"]["orders_received"], 1);
  EXPECT_EQ(r["total"]["fulfilled"], 1);
  EXPECT_EQ(r["checkpoint"]["tree_size"], 3);
  const std::string page = Http(server_.port(), "GET", "/transparency");
  EXPECT_TRUE(page.starts_with("HTTP/1.1 200")) << page;
  EXPECT_NE(page.find("Transparency report"), std::string::npos);
  EXPECT_TRUE(Http(server_.port(), "GET", "/transparency?from=2026-02-30&to=x").starts_with("HTTP/1.1 400"));
}

TEST_F(Disclosure, TheNoticeArrivesWhenTheGagEndsAndItsProofVerifies) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Device suspect = Register("+43660000002");
  SignIn(suspect);
  Device laptop = Link(suspect);
  SignIn(laptop);
  ASSERT_NO_FATAL_FAILURE(RegisterCourt());
  legal::Order o = MakeOrder("+43660000002");
  o.gag_until_ms = now_ + 20 * legal::kDayMs;
  const std::string res = HttpPost(server_.port(), "/orders", SignedFile(o, sign_));
  ASSERT_TRUE(res.starts_with("HTTP/1.1 200")) << res;

  // Nothing while the gag holds, even after maintenance runs.
  Advance(std::chrono::hours(24 * 19));
  ExpectNoPush(suspect);
  ExpectNoPush(laptop);
  // Past the gag date: one notice on each device, stored like any envelope.
  Advance(std::chrono::hours(24 * 2));
  for (Device* d : {&suspect, &laptop}) {
    const pb::Envelope e = NextEnvelope(*d);
    EXPECT_EQ(e.type(), pb::SERVER_NOTICE);
    EXPECT_TRUE(e.source_account().empty());
    const auto notice = nlohmann::json::parse(e.content(), nullptr, false);
    ASSERT_TRUE(notice.is_object()) << e.content();
    EXPECT_EQ(notice["type"], "disclosure_notice");
    EXPECT_EQ(notice["authority"]["name"], "Landesgericht");
    EXPECT_EQ(notice["data_disclosed"], nlohmann::json::array({"phone_number", "ip_records"}));
    // What a client checks: the log key is the one it knows, the entry is in the log, and
    // the entry's commitment opens to this account with the salt.
    EXPECT_EQ(notice["log_key"], registry_->LogVerifier().ToString());
    const std::string entry = notice["entry"].get<std::string>();
    auto verified = tlog::VerifyTlogProof(notice["tlog_proof"].get<std::string>(), AsBytes(entry),
                                          legal::kLogOrigin, registry_->LogVerifier());
    EXPECT_TRUE(verified.ok());
    auto decision = legal::DecisionFromLogEntry(nlohmann::json::parse(entry));
    ASSERT_TRUE(decision.ok());
    auto salt = Base64Decode(notice["salt"].get<std::string>());
    ASSERT_TRUE(salt.ok());
    const std::string commitment = legal::Commitment(*salt, AsBytes(suspect.account));
    EXPECT_EQ(decision->commitments, std::vector<std::string>{commitment});
    EXPECT_EQ(notice["commitment"], commitment);
    Ack(*d, {e});
  }
  // Delivered once: the next rounds send nothing more.
  Advance(std::chrono::hours(1));
  ExpectNoPush(suspect);
}

// --- Lifecycle -----------------------------------------------------------------------------------

TEST_F(Lifecycle, SigtermIsGracefulAndStoredMessagesSurviveARestart) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Device alice = Register("+14155550701");
  Device bob = Register("+14155550702");
  SignIn(alice);
  const pb::Response sent = Call(alice.conn, SendRequest(bob.account, {bob.target()}, "kept"));
  ASSERT_EQ(sent.status(), pb::OK);  // the server's acknowledgement: stored durably

  // SIGTERM: the server closes its connections (answering their close handshake here lets it
  // stop at once) and exits 0.
  ASSERT_EQ(::kill(server_.pid(), SIGTERM), 0);
  EXPECT_TRUE(WaitClosed(alice.conn));
  EXPECT_EQ(StopServer(), 0);

  ASSERT_NO_FATAL_FAILURE(StartServer());
  std::vector<pb::Envelope> queued = SignIn(bob);
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].content(), "kept");
  EXPECT_EQ(queued[0].id(), sent.send().envelope_ids(0));
  SignIn(alice);  // the account and its credential survived too
  EXPECT_EQ(StatusFor(alice.conn, ServerInfoRequest()), pb::OK);
}

TEST_F(Lifecycle, TlsWithAPinnedCertificate) {
  ASSERT_NO_FATAL_FAILURE(StartServer({}, /*tls=*/true));
  ASSERT_EQ(server_.fingerprint().size(), crypto::kCertificateFingerprintHexChars);
  std::ifstream pem_file(data_dir_ + "/tls/cert.pem");
  std::stringstream pem;
  pem << pem_file.rdbuf();
  auto from_file = crypto::CertificateFingerprintSha256(pem.str());
  ASSERT_TRUE(from_file.ok());
  EXPECT_EQ(*from_file, server_.fingerprint());

  Device alice = Register("+14155550703");  // over wss
  SignIn(alice);
  EXPECT_EQ(StatusFor(alice.conn, ServerInfoRequest()), pb::OK);

  wire::ClientOptions o;
  o.url = server_.url();
  o.timeout = kWait;
  o.peer_fingerprint = &crypto::PeerCertificateFingerprintSha256;
  o.pinned_sha256 = std::string(64, '0');
  EXPECT_EQ(wire::Client::Connect(o).code(), ErrorCode::kAuthenticationFailed);
  o.pinned_sha256 = server_.fingerprint();
  for (char& ch : o.pinned_sha256) {
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  EXPECT_TRUE(wire::Client::Connect(o).ok());  // a pin in upper case is the same pin
  // Plain WebSocket to the TLS port does not get through.
  o.url = "ws://127.0.0.1:" + std::to_string(server_.port());
  o.timeout = milliseconds(1000);
  EXPECT_FALSE(wire::Client::Connect(o).ok());
}

}  // namespace
}  // namespace holdfast
