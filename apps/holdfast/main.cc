// holdfast: the Holdfast messenger on the command line.
//
//   holdfast --home DIR --server URL [--json] <subcommand>
//     register PHONE             ask the server for a verification code
//     verify CODE                finish registering this device
//     send PHONE TEXT            send an end-to-end encrypted message
//     receive [--wait S]         print new messages and ack them (JSON: one object a line)
//     read CONVERSATION          mark a conversation read and send read receipts
//     history CONVERSATION       the conversation's last messages
//     conversations | contacts | devices
//     safety-number PHONE        the number to compare with the contact
//     trust PHONE                accept the contact's (new) safety number
//     group create NAME PHONE... | add ID PHONE... | remove ID PHONE... | send ID TEXT | list
//     chat                       the full-screen chat: conversations, messages, an input line
//
// The local store under --home is encrypted at rest with a passphrase (HOLDFAST_PASSPHRASE,
// or a prompt) or a key file (--key-file). Errors are one sentence on stderr, then the
// stable code in brackets, with exit status 2.
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "holdfast/client/local_store.h"
#include "holdfast/client/messenger.h"
#include "holdfast/common/error.h"
#include "holdfast/common/utf8.h"
#include "tui.h"

namespace client = holdfast::client;
using holdfast::Error;
using holdfast::ErrorCode;
using holdfast::Result;

namespace {

constexpr int kError = 2;

int Fail(const Error& e) {
  std::fprintf(stderr, "holdfast: %s [%s]\n", client::PersonError(e).c_str(),
               std::string(holdfast::ErrorName(e.code)).c_str());
  return kError;
}

// ReadPassphrase reads a line from the terminal without echo.
Result<holdfast::SecretBytes> ReadPassphrase(const char* prompt) {
  FILE* tty = std::fopen("/dev/tty", "r+");
  if (tty == nullptr) {
    return Error{ErrorCode::kInvalidArgument,
                 "no passphrase: set HOLDFAST_PASSPHRASE or run in a terminal"};
  }
  // Unbuffered: the passphrase goes straight into the wiping buffer, not through stdio's.
  std::setvbuf(tty, nullptr, _IONBF, 0);
  std::fputs(prompt, tty);
  termios old{};
  const bool term = ::tcgetattr(fileno(tty), &old) == 0;
  if (term) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(fileno(tty), TCSANOW, &quiet);
  }
  holdfast::SecretBytes buf(1024);
  const char* line = std::fgets(reinterpret_cast<char*>(buf.data()), 1024, tty);
  if (term) {
    ::tcsetattr(fileno(tty), TCSANOW, &old);
  }
  std::fputs("\n", tty);
  std::fclose(tty);
  if (line == nullptr) {
    return Error{ErrorCode::kInvalidArgument, "no passphrase given"};
  }
  size_t n = std::strlen(line);
  if (n > 0 && buf.data()[n - 1] != '\n' && n == buf.size() - 1) {
    return Error{ErrorCode::kInvalidArgument, "a passphrase has at most 1022 characters"};
  }
  while (n > 0 && (buf.data()[n - 1] == '\n' || buf.data()[n - 1] == '\r')) {
    --n;
  }
  buf.Shrink(n);
  return buf;
}

// Secret unlocks (or, for a new home, creates) the local store: a key file, the
// HOLDFAST_PASSPHRASE environment variable, or a passphrase typed twice for a new store.
Result<client::StoreSecret> Secret(const std::string& key_file, bool new_store) {
  client::StoreSecret s;
  if (!key_file.empty()) {
    s.kind = client::StoreSecret::Kind::kKeyFile;
    HF_ASSIGN_OR_RETURN(s.bytes, client::ReadKeyFile(key_file));
    return s;
  }
  if (const char* env = std::getenv("HOLDFAST_PASSPHRASE"); env != nullptr && *env != '\0') {
    s.bytes = holdfast::SecretBytes::Copy(holdfast::AsBytes(env));
    return s;
  }
  if (!new_store) {
    HF_ASSIGN_OR_RETURN(s.bytes, ReadPassphrase("Passphrase for the local store: "));
    return s;
  }
  HF_ASSIGN_OR_RETURN(s.bytes, ReadPassphrase("New passphrase for this device's local store: "));
  HF_ASSIGN_OR_RETURN(const holdfast::SecretBytes again, ReadPassphrase("The same again: "));
  if (!s.bytes.Equals(again)) {
    return Error{ErrorCode::kInvalidArgument, "the two passphrases differ; nothing was created"};
  }
  return s;
}

// Shown is text from elsewhere (a message, a device or group name) made safe to print:
// invalid UTF-8, controls and escape sequences become U+FFFD, so that nobody can rewrite the
// terminal or forge a line of ours; a line break continues indented.
std::string Shown(std::string_view text) {
  const std::string valid = holdfast::ToValidUtf8(text);
  std::string out;
  size_t i = 0;
  while (i < valid.size()) {
    char32_t c = 0;
    const size_t n = holdfast::DecodeUtf8(valid, i, c);
    i += n;
    if (c == U'\n') {
      out += "\n      ";
    } else if (holdfast::IsTerminalControl(c)) {
      holdfast::AppendUtf8(holdfast::kReplacementCharacter, out);
    } else {
      holdfast::AppendUtf8(c, out);
    }
  }
  return out;
}

// Dump prints JSON on one line; text that is not valid UTF-8 is replaced, not fatal.
std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string StatusName(const client::Message& m) {
  if (!m.outgoing) {
    return m.read ? "read" : "unread";
  }
  switch (m.status) {
    case client::Message::Status::kSent: return "sent";
    case client::Message::Status::kDelivered: return "delivered";
    case client::Message::Status::kRead: return "read";
    case client::Message::Status::kFailed: return "failed";
  }
  return "sent";
}

nlohmann::json MessageJson(const client::Message& m) {
  nlohmann::json j = {{"conversation", m.conversation},
                      {"from", m.outgoing ? std::string("me") : m.sender},
                      {"text", m.text},
                      {"timestamp", m.timestamp},
                      {"id", m.id},
                      {"status", StatusName(m)}};
  if (m.conversation.starts_with("group:")) {
    j["group"] = m.conversation.substr(6);
  }
  if (!m.outgoing) {
    j["sealed"] = m.sealed;
  }
  if (m.notice) {
    j["notice"] = true;
  }
  return j;
}

std::string Clock(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

void PrintMessage(const client::Message& m) {
  const std::string who = m.notice ? "*" : (m.outgoing ? "me" : Shown(m.sender));
  std::string where;
  if (m.conversation.starts_with("group:")) {
    where = " [" + m.conversation + "]";
  } else if (m.outgoing) {
    where = " -> " + m.conversation;
  }
  std::string marks;
  if (m.outgoing) {
    marks = m.status == client::Message::Status::kRead        ? "  (read)"
            : m.status == client::Message::Status::kDelivered ? "  (delivered)"
            : m.status == client::Message::Status::kFailed    ? "  (NOT SENT)"
                                                              : "  (sent)";
  }
  std::printf("%s  %s%s: %s%s\n", Clock(m.timestamp).c_str(), who.c_str(), where.c_str(),
              Shown(m.text).c_str(), marks.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"holdfast: end-to-end encrypted messenger"};
  app.require_subcommand(1);
  std::string home;
  std::string server;
  std::string pin;
  std::string key_file;
  bool json = false;
  const char* env_home = std::getenv("HOME");
  home = env_home != nullptr ? std::string(env_home) + "/.holdfast" : ".holdfast";
  app.add_option("--home", home, "this device's directory (default ~/.holdfast)");
  app.add_option("--server", server, "ws://HOST:PORT (loopback) or wss://HOST:PORT");
  app.add_option("--pin", pin, "the server certificate's SHA-256, when known in advance");
  app.add_option("--key-file", key_file, "unlock the local store with a 32-byte key file");
  app.add_flag("--json", json, "machine-readable output");
  std::string device_name;
  app.add_option("--device-name", device_name, "how this device is listed (default: the host)");

  std::string phone, code, text, conversation, name, group_id;
  std::vector<std::string> phones;
  double wait_s = 1.0;

  auto* reg = app.add_subcommand("register", "ask for a verification code");
  reg->add_option("PHONE", phone)->required();
  auto* verify = app.add_subcommand("verify", "finish registering with the code");
  verify->add_option("CODE", code)->required();
  auto* send = app.add_subcommand("send", "send a message");
  send->add_option("PHONE", phone)->required();
  send->add_option("TEXT", text)->required();
  auto* receive = app.add_subcommand("receive", "print and ack new messages");
  receive->add_option("--wait", wait_s, "seconds to wait for more after the queue is empty")
      ->check(CLI::Range(0.0, 3600.0));
  auto* read = app.add_subcommand("read", "mark a conversation read (sends read receipts)");
  read->add_option("CONVERSATION", conversation)->required();
  auto* history = app.add_subcommand("history", "a conversation's messages");
  history->add_option("CONVERSATION", conversation)->required();
  auto* conversations = app.add_subcommand("conversations", "conversations, newest first");
  auto* contacts = app.add_subcommand("contacts", "known contacts");
  auto* devices = app.add_subcommand("devices", "this account's devices");
  auto* safety = app.add_subcommand("safety-number", "the safety number with a contact");
  safety->add_option("PHONE", phone)->required();
  std::string compared;
  auto* trust = app.add_subcommand("trust", "accept a contact's safety number");
  trust->add_option("PHONE", phone)->required();
  trust->add_option("NUMBER", compared,
                    "the safety number you compared: accepted only if it is still current");
  double link_wait_s = 120;
  std::string link_code;
  uint32_t device_to_remove = 0;
  auto* link_code_cmd = app.add_subcommand(
      "link-code", "show a code to link a new device, and wait for it to link");
  link_code_cmd->add_option("--wait", link_wait_s, "seconds to wait for the new device")
      ->check(CLI::Range(0.0, 3600.0));
  auto* link = app.add_subcommand("link", "make this new device part of an account");
  link->add_option("CODE", link_code, "the code the other device shows")->required();
  link->add_option("--wait", link_wait_s, "seconds to wait for the other device's answer")
      ->check(CLI::Range(0.0, 3600.0));
  auto* unlink = app.add_subcommand("unlink", "remove a device from this account");
  unlink->add_option("DEVICE", device_to_remove)->required();
  auto* group = app.add_subcommand("group", "groups");
  group->require_subcommand(1);
  auto* gcreate = group->add_subcommand("create", "create a group");
  gcreate->add_option("NAME", name)->required();
  gcreate->add_option("PHONE", phones)->required();
  auto* gadd = group->add_subcommand("add", "add members");
  gadd->add_option("ID", group_id)->required();
  gadd->add_option("PHONE", phones)->required();
  auto* gremove = group->add_subcommand("remove", "remove members (rotates the group key)");
  gremove->add_option("ID", group_id)->required();
  gremove->add_option("PHONE", phones)->required();
  auto* gsend = group->add_subcommand("send", "send to a group");
  gsend->add_option("ID", group_id)->required();
  gsend->add_option("TEXT", text)->required();
  auto* glist = group->add_subcommand("list", "groups");
  auto* chat = app.add_subcommand("chat", "the full-screen chat (Ctrl-C or /quit leaves)");

  CLI11_PARSE(app, argc, argv);

  std::error_code exists_error;
  auto secret = Secret(key_file, !std::filesystem::exists(home + "/holdfast.db", exists_error));
  if (!secret.ok()) {
    return Fail(secret.error());
  }
  client::MessengerOptions options;
  options.home = home;
  options.server_url = server;
  options.tls_pin = pin;
  options.secret = std::move(secret).value();
  if (!device_name.empty()) {
    options.device_name = device_name;
  } else if (char host[64] = {}; ::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') {
    options.device_name = std::string("holdfast on ") + host;
  }
  auto opened = client::Messenger::Open(options);
  if (!opened.ok()) {
    return Fail(opened.error());
  }
  client::Messenger& m = **opened;
  auto print = [&](const nlohmann::json& j, const std::string& human) {
    if (json) {
      std::printf("%s\n", Dump(j).c_str());
    } else if (!human.empty()) {
      std::printf("%s\n", human.c_str());
    }
  };

  if (*reg) {
    if (auto r = m.Register(phone); !r.ok()) {
      return Fail(r.error());
    }
    print({{"registering", phone}}, "A code was sent to " + phone + ". Run: holdfast verify CODE");
  } else if (*verify) {
    if (auto r = m.Verify(code); !r.ok()) {
      return Fail(r.error());
    }
    print({{"registered", m.phone()}, {"device", m.device_id()}, {"server_pin", m.server_pin()}},
          "Registered " + m.phone() + " (device " + std::to_string(m.device_id()) + ").");
  } else if (*link_code_cmd) {
    auto shown = m.CreateLinkCode();
    if (!shown.ok()) {
      return Fail(shown.error());
    }
    print({{"link_code", *shown}}, "On the new device run:\n  holdfast --server URL link " +
                                       *shown + "\nWaiting for it...");
    std::fflush(stdout);
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(static_cast<int64_t>(link_wait_s * 1000));
    bool linked = false;
    while (!linked && std::chrono::steady_clock::now() < deadline) {
      auto events = m.Receive(std::chrono::milliseconds(500));
      if (!events.ok()) {
        return Fail(events.error());
      }
      for (const auto& e : *events) {
        if (e.kind == client::Event::Kind::kDeviceLinked) {
          print({{"linked", e.message.text}}, Shown(e.message.text));
          linked = true;
        } else if (e.kind == client::Event::Kind::kMessage) {
          // Stored and acked meanwhile: shown, not swallowed.
          json ? (void)std::printf("%s\n", Dump(MessageJson(e.message)).c_str())
               : PrintMessage(e.message);
        }
      }
    }
    if (!linked) {
      return Fail(Error{ErrorCode::kUnavailable, "no device linked in time; the code expires"});
    }
  } else if (*link) {
    if (auto r = m.Link(link_code,
                        std::chrono::milliseconds(static_cast<int64_t>(link_wait_s * 1000)));
        !r.ok()) {
      return Fail(r.error());
    }
    print({{"linked", m.phone()}, {"device", m.device_id()}},
          "Linked to " + m.phone() + " as device " + std::to_string(m.device_id()) + ".");
  } else if (*unlink) {
    if (auto r = m.RemoveDevice(device_to_remove); !r.ok()) {
      return Fail(r.error());
    }
    print({{"removed", device_to_remove}}, "Removed device " + std::to_string(device_to_remove));
  } else if (*send) {
    auto r = m.SendText(phone, text);
    if (!r.ok()) {
      return Fail(r.error());
    }
    print({{"to", phone}, {"timestamp", r->timestamp}, {"sealed", r->sealed}, {"devices", r->devices}},
          "Sent to " + phone + (r->sealed ? " (sealed sender)" : ""));
  } else if (*receive) {
    auto events = m.Receive(std::chrono::milliseconds(static_cast<int64_t>(wait_s * 1000)));
    if (!events.ok()) {
      return Fail(events.error());
    }
    for (const auto& e : *events) {
      using K = client::Event::Kind;
      switch (e.kind) {
        case K::kMessage:
        case K::kServerNotice:
          if (json) {
            auto j = MessageJson(e.message);
            if (e.kind == K::kServerNotice) {
              j["server_notice"] = true;
            }
            std::printf("%s\n", Dump(j).c_str());
          } else {
            PrintMessage(e.message);
          }
          break;
        case K::kDelivered:
        case K::kRead:
          print({{"receipt", e.kind == K::kRead ? "read" : "delivered"},
                 {"conversation", e.conversation},
                 {"by", e.message.sender},
                 {"timestamp", e.timestamp}},
                "(" + std::string(e.kind == K::kRead ? "read" : "delivered") + " by " +
                    e.message.sender + ": your message of " + Clock(e.timestamp) +
                    (e.conversation.starts_with("group:") ? " in " + e.conversation : "") + ")");
          break;
        case K::kIdentityChanged:
          print({{"safety_number_changed", e.conversation}},
                "!!! SAFETY NUMBER CHANGED for " + e.conversation +
                    ". Sending to them is paused. Compare: holdfast safety-number " +
                    e.conversation + ", then: holdfast trust " + e.conversation);
          break;
        case K::kDeviceLinked:
          print({{"device_linked", e.message.text}}, "(" + Shown(e.message.text) + ")");
          break;
        case K::kGroupUpdated:
          print({{"group_updated", e.conversation}}, "(group updated: " + e.conversation + ")");
          break;
        case K::kUndecryptable:
          print({{"undecryptable", e.message.id}, {"reason", e.message.text}},
                "(a message could not be decrypted: " + e.message.text + ")");
          break;
      }
    }
  } else if (*read) {
    if (auto r = m.MarkRead(conversation); !r.ok()) {
      return Fail(r.error());
    }
  } else if (*history) {
    auto msgs = m.History(conversation);
    if (!msgs.ok()) {
      return Fail(msgs.error());
    }
    for (const auto& msg : *msgs) {
      json ? (void)std::printf("%s\n", Dump(MessageJson(msg)).c_str()) : PrintMessage(msg);
    }
  } else if (*conversations) {
    auto list = m.Conversations();
    if (!list.ok()) {
      return Fail(list.error());
    }
    for (const auto& c : *list) {
      print({{"id", c.id}, {"title", c.title}, {"unread", c.unread}, {"last", c.last_text}},
            Shown(c.title) + (c.unread ? "  (" + std::to_string(c.unread) + " unread)" : "") +
                "  " + Shown(c.last_text));
    }
  } else if (*contacts) {
    auto list = m.Contacts();
    if (!list.ok()) {
      return Fail(list.error());
    }
    for (const auto& c : *list) {
      print({{"phone", c.phone},
             {"devices", c.devices},
             {"verified", c.verified},
             {"safety_number_changed", c.identity_changed},
             {"sealed_sender", c.sealed}},
            c.phone + (c.verified ? "  verified" : "") +
                (c.identity_changed ? "  SAFETY NUMBER CHANGED" : "") +
                "  devices: " + std::to_string(c.devices.size()));
    }
  } else if (*devices) {
    auto list = m.Devices();
    if (!list.ok()) {
      return Fail(list.error());
    }
    for (const auto& d : *list) {
      print({{"id", d.id}, {"name", d.name}, {"current", d.current}},
            std::to_string(d.id) + "  " + Shown(d.name) + (d.current ? "  (this device)" : ""));
    }
  } else if (*safety) {
    auto n = m.SafetyNumber(phone);
    if (!n.ok()) {
      return Fail(n.error());
    }
    std::string grouped;
    for (size_t i = 0; i < n->displayable.size(); i += 5) {
      grouped += n->displayable.substr(i, 5) + ((i / 5) % 4 == 3 ? "\n" : " ");
    }
    print({{"phone", phone}, {"safety_number", n->displayable}}, grouped);
  } else if (*trust) {
    if (auto r = m.Trust(phone, compared); !r.ok()) {
      return Fail(r.error());
    }
    print({{"trusted", phone}}, "Marked " + phone + " verified.");
  } else if (*gcreate) {
    auto id = m.CreateGroup(name, phones);
    if (!id.ok()) {
      return Fail(id.error());
    }
    print({{"group", *id}, {"name", name}}, *id);
  } else if (*gadd || *gremove) {
    auto r = *gadd ? m.AddMembers(group_id, phones) : m.RemoveMembers(group_id, phones);
    if (!r.ok()) {
      return Fail(r.error());
    }
    print({{"group", group_id}}, "");
  } else if (*gsend) {
    auto r = m.SendGroupText(group_id, text);
    if (!r.ok()) {
      return Fail(r.error());
    }
    print({{"group", group_id}, {"timestamp", r->timestamp}, {"devices", r->devices}},
          "Sent to the group.");
  } else if (*glist) {
    auto list = m.Groups();
    if (!list.ok()) {
      return Fail(list.error());
    }
    for (const auto& g : *list) {
      print({{"id", g.id}, {"name", g.name}, {"members", g.members}, {"left", g.left}},
            g.id + "  " + Shown(g.name) + "  (" + std::to_string(g.members.size() + 1) +
                " members)");
    }
  } else if (*chat) {
    if (auto r = holdfast::app::RunChat(m, {}); !r.ok()) {
      return Fail(r.error());
    }
  }
  return 0;
}
