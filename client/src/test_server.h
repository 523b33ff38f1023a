// ServerTest: the fixture of the client's integration tests. Each test gets a scratch
// directory, starts the real holdfastd in it on 127.0.0.1 (port 0) with development codes,
// and opens devices (Messengers) in subdirectories of it. TearDown closes every device, stops
// a server still running and removes the directory. Every wait is bounded.
#ifndef HOLDFAST_CLIENT_TEST_SERVER_H_
#define HOLDFAST_CLIENT_TEST_SERVER_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "holdfast/client/messenger.h"
#include "holdfast/testing/holdfastd_process.h"

namespace holdfast::client {

class ServerTest : public ::testing::Test {
 protected:
  // kStartWait bounds starting and stopping the server.
  static constexpr std::chrono::milliseconds kStartWait{15000};
  // kSettle is how long a Receive waits for more once the queue is empty.
  static constexpr std::chrono::milliseconds kSettle{200};
  // kTestKdf makes opening a local store cheap; real devices use the interactive cost.
  static constexpr crypto::Argon2idParams kTestKdf{1, 64 * 1024};

  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "client_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    // Limits high enough that no test is slowed by the server's rate limiting.
    std::ofstream(dir_ + "/config.json") << R"({"io_threads": 2,
               "register_per_phone": {"per_minute": 6000, "burst": 1000},
               "register_per_ip": {"per_minute": 6000, "burst": 1000},
               "verify_per_ip": {"per_minute": 6000, "burst": 1000},
               "auth_failures_per_ip": {"per_minute": 6000, "burst": 1000},
               "lookups_per_account": {"per_minute": 6000, "burst": 1000},
               "sends_per_account": {"per_minute": 60000, "burst": 10000}})";
  }
  void TearDown() override {
    users_.clear();
    if (server_.running()) {
      EXPECT_EQ(server_.Stop(kStartWait), 0) << "holdfastd did not exit cleanly";
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // StartServer starts holdfastd with its data in dir_/server; a fixed `listen` address
  // lets a restarted server keep its URL.
  void StartServer(bool tls = false, const std::string& listen = "127.0.0.1:0") {
    testing::HoldfastdOptions o;
    o.binary = HOLDFASTD_PATH;
    o.data_dir = dir_ + "/server";
    o.codes_file = dir_ + "/codes.txt";
    o.config_file = dir_ + "/config.json";
    o.tls = tls;
    o.test_clock = false;
    o.listen = listen;
    std::string error;
    ASSERT_TRUE(server_.Start(o, kStartWait, &error)) << error;
  }

  // Code is the last development code the server wrote for `phone` ("" if none).
  std::string Code(const std::string& phone) {
    std::ifstream in(dir_ + "/codes.txt");
    std::string line, code;
    while (std::getline(in, line)) {
      if (line.starts_with(phone + " ")) {
        code = line.substr(phone.size() + 1);
      }
    }
    return code;
  }

  MessengerOptions Options(const std::string& home, const std::string& passphrase = "pw") {
    MessengerOptions o;
    o.home = dir_ + "/" + home;
    o.server_url = server_.url();
    o.secret.bytes = SecretBytes::Copy(AsBytes(passphrase));
    o.kdf = kTestKdf;
    o.timeout = std::chrono::milliseconds(5000);
    return o;
  }

  // User opens (or reopens) a device by its home name.
  Messenger& User(const std::string& home) {
    auto& slot = users_[home];
    if (!slot) {
      auto m = Messenger::Open(Options(home));
      EXPECT_TRUE(m.ok()) << ErrorName(m.code());
      slot = std::move(m).value();
    }
    return *slot;
  }
  void Close(const std::string& home) { users_.erase(home); }

  // Register opens the device `home` and registers it as `phone` with the server's code.
  Messenger& Register(const std::string& home, const std::string& phone) {
    Messenger& m = User(home);
    auto r = m.Register(phone);
    EXPECT_TRUE(r.ok()) << PersonError(r.error());
    auto v = m.Verify(Code(phone));
    EXPECT_TRUE(v.ok()) << PersonError(v.error());
    EXPECT_TRUE(m.registered());
    return m;
  }

  static std::vector<Event> Receive(Messenger& m) {
    auto events = m.Receive(kSettle);
    EXPECT_TRUE(events.ok()) << (events.ok() ? "" : PersonError(events.error()));
    return events.ok() ? *events : std::vector<Event>{};
  }
  static std::vector<std::string> Texts(const std::vector<Event>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) {
      if (e.kind == Event::Kind::kMessage) {
        out.push_back(e.message.text);
      }
    }
    return out;
  }
  static size_t Count(const std::vector<Event>& events, Event::Kind kind) {
    return static_cast<size_t>(std::count_if(events.begin(), events.end(),
                                             [&](const Event& e) { return e.kind == kind; }));
  }

  std::string dir_;
  testing::HoldfastdProcess server_;
  std::map<std::string, std::unique_ptr<Messenger>> users_;
};

}  // namespace holdfast::client

#endif  // HOLDFAST_CLIENT_TEST_SERVER_H_
