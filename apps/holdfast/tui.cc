// The chat screen: see tui.h. Layout, top to bottom:
//
//   row 0         a title bar, or the red safety-number banner while a change waits
//   rows 1..H-3   conversations (left) | the open conversation (right)
//   row H-2       the status bar: what just happened, errors as one sentence
//   row H-1       the input line
//
// Every string that reaches the screen goes through Glyphs(), which replaces control
// characters and bidi overrides: a message must not be able to move the cursor, retitle the
// terminal or make its text read as something else.
#include "tui.h"

// Plain functions instead of curses' macros, which would take over names like move and erase.
#define NCURSES_NOMACROS 1
#include <curses.h>
#include <langinfo.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <clocale>
#include <csignal>
#include <ctime>
#include <cwchar>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "holdfast/common/error.h"
#include "holdfast/common/phone.h"
#include "holdfast/common/utf8.h"

namespace holdfast::app {
namespace {

using Clock = std::chrono::steady_clock;
using client::Message;

constexpr int kMinRows = 8;
constexpr int kMinCols = 40;
constexpr int kMinListWidth = 20;
constexpr int kMaxListWidth = 32;
constexpr size_t kMaxInputChars = 4000;  // code points; far below the content limit
constexpr int kEscDelayMs = 25;
constexpr int kMaxBackoffShift = 5;
constexpr char32_t kReplacement = 0xFFFD;
constexpr std::string_view kGroupPrefix = "group:";
constexpr std::string_view kHint =
    "Up/Down/Tab pick  Enter send  PgUp/PgDn scroll  /to PHONE  /group NAME PHONE...  /safety  "
    "/trust  /help  /quit";

// The only state a signal handler may touch: it asks the loop to stop, which then restores
// the terminal and closes the store on its way out.
volatile std::sig_atomic_t g_stop = 0;

extern "C" void OnStopSignal(int) { g_stop = 1; }

// StopSignals routes SIGINT, SIGTERM and SIGHUP to OnStopSignal for its lifetime. Installed
// before curses starts, so that curses keeps them instead of exiting from its own handler.
class StopSignals {
 public:
  StopSignals() {
    struct sigaction sa {};
    sa.sa_handler = OnStopSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  // the Messenger's I/O resumes; the key wait still wakes up
    for (size_t i = 0; i < kSignals.size(); ++i) {
      ::sigaction(kSignals[i], &sa, &old_[i]);
    }
    g_stop = 0;
  }
  ~StopSignals() {
    for (size_t i = 0; i < kSignals.size(); ++i) {
      ::sigaction(kSignals[i], &old_[i], nullptr);
    }
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  static constexpr std::array<int, 3> kSignals = {SIGINT, SIGTERM, SIGHUP};
  std::array<struct sigaction, 3> old_{};
};

// --- Text --------------------------------------------------------------------------------

struct Glyph {
  char32_t c;
  int width;  // columns; 0 for a newline and for combining marks
};


std::string Utf8(const std::u32string& s) {
  std::string out;
  for (char32_t c : s) {
    AppendUtf8(c, out);
  }
  return out;
}

// Glyphs decodes `text` for drawing. Invalid bytes, controls and bidi controls become a
// replacement mark, tabs become spaces, carriage returns vanish and newlines stay (for
// Wrap). Without a UTF-8 terminal every non-ASCII character is drawn as "?".
std::vector<Glyph> Glyphs(std::string_view text, bool utf8) {
  const char32_t replacement = utf8 ? kReplacement : U'?';
  std::vector<Glyph> out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    char32_t c = 0;
    size_t n = DecodeUtf8(text, i, c);
    if (n == 0) {
      c = replacement;
      n = 1;
    }
    i += n;
    if (c == U'\n') {
      out.push_back({c, 0});
      continue;
    }
    if (c == U'\r') {
      continue;
    }
    if (c == U'\t') {
      c = U' ';
    }
    if (IsTerminalControl(c)) {
      c = replacement;
    }
    int width = 1;
    if (c >= 0x80) {
      if (!utf8) {
        c = U'?';
      } else {
        width = ::wcwidth(static_cast<wchar_t>(c));
        if (width < 0) {
          c = replacement;
          width = 1;
        }
      }
    }
    out.push_back({c, width});
  }
  return out;
}

std::string Encode(const std::vector<Glyph>& glyphs) {
  std::string out;
  for (const Glyph& g : glyphs) {
    AppendUtf8(g.c, out);
  }
  return out;
}

int Width(const std::vector<Glyph>& glyphs) {
  int w = 0;
  for (const Glyph& g : glyphs) {
    w += g.width;
  }
  return w;
}

// Fit is `text` on one line of exactly `width` columns: cut, or padded with spaces.
std::string Fit(std::string_view text, int width, bool utf8) {
  std::vector<Glyph> line;
  int used = 0;
  for (Glyph g : Glyphs(text, utf8)) {
    if (g.c == U'\n') {
      g = {U' ', 1};
    }
    if (used + g.width > width) {
      break;
    }
    line.push_back(g);
    used += g.width;
  }
  line.resize(line.size() + static_cast<size_t>(std::max(0, width - used)), Glyph{U' ', 1});
  return Encode(line);
}

// Wrap breaks `text` into lines of at most `width` columns, at spaces where it can;
// continuation lines start with `indent` spaces.
std::vector<std::string> Wrap(std::string_view text, int width, int indent, bool utf8) {
  if (width < 2) {
    return {};
  }
  if (indent > width / 2) {
    indent = 0;
  }
  const size_t lead = static_cast<size_t>(indent);
  std::vector<std::string> out;
  std::vector<Glyph> line;
  int used = 0;
  auto next_line = [&] {
    out.push_back(Encode(line));
    line.assign(lead, Glyph{U' ', 1});
    used = indent;
  };
  for (const Glyph& g : Glyphs(text, utf8)) {
    if (g.c == U'\n') {
      next_line();
      continue;
    }
    if (used + g.width > width && line.size() > lead) {
      size_t cut = line.size();
      while (cut > lead && line[cut - 1].c != U' ') {
        --cut;
      }
      std::vector<Glyph> rest;
      if (cut > lead + 1) {
        rest.assign(line.begin() + static_cast<std::ptrdiff_t>(cut), line.end());
        line.resize(cut - 1);
      }
      next_line();
      for (const Glyph& r : rest) {
        line.push_back(r);
        used += r.width;
      }
    }
    if (g.c == U' ' && line.size() == lead && !out.empty()) {
      continue;  // no leading space on a wrapped line
    }
    line.push_back(g);
    used += g.width;
  }
  out.push_back(Encode(line));
  return out;
}

std::string Trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) {
    return "";
  }
  const size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> Words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') {
      ++i;
    }
    const size_t b = i;
    while (i < s.size() && s[i] != ' ') {
      ++i;
    }
    if (i > b) {
      out.emplace_back(s.substr(b, i - b));
    }
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) {
      out += sep;
    }
    out += p;
  }
  return out;
}

// When is a message's time: "14:02" today, "03-11 14:02" on another day.
std::string When(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  const std::time_t now = std::time(nullptr);
  std::tm at{};
  std::tm today{};
  ::localtime_r(&t, &at);
  ::localtime_r(&now, &today);
  const bool same_day = at.tm_year == today.tm_year && at.tm_yday == today.tm_yday;
  char buf[32];
  std::strftime(buf, sizeof buf, same_day ? "%H:%M" : "%m-%d %H:%M", &at);
  return buf;
}

// Mark is the delivery state of one of our messages, in ASCII so that every terminal shows it.
std::string_view Mark(const Message& m) {
  switch (m.status) {
    case Message::Status::kSent:
      return "(sent)";
    case Message::Status::kDelivered:
      return "(delivered)";
    case Message::Status::kRead:
      return "(read)";
    case Message::Status::kFailed:
      return "(FAILED: not sent)";
  }
  return "(sent)";
}

bool IsGroup(std::string_view conversation) { return conversation.starts_with(kGroupPrefix); }

// --- Terminal ----------------------------------------------------------------------------

struct Palette {
  int banner = A_REVERSE | A_BOLD;
  int error = A_REVERSE | A_BOLD;
  int status = A_REVERSE;
  int title = A_REVERSE;
  int header = A_BOLD | A_UNDERLINE;
  int selected = A_REVERSE;
  int changed = A_BOLD;
  int failed = A_BOLD;
  int notice = A_DIM;
  int info = A_BOLD;
};

// Terminal owns the curses screen: the constructor-like Open sets it up, the destructor gives
// the terminal back as it was (also on every early return).
class Terminal {
 public:
  static Result<std::unique_ptr<Terminal>> Open(const ChatOptions& options) {
    if (::isatty(STDIN_FILENO) == 0 || ::isatty(STDOUT_FILENO) == 0) {
      return Error{ErrorCode::kInvalidArgument, "chat needs a terminal"};
    }
    std::setlocale(LC_ALL, "");
    const bool utf8 = std::string_view(::nl_langinfo(CODESET)) == "UTF-8";
    SCREEN* screen = ::newterm(nullptr, stdout, stdin);
    if (screen == nullptr) {
      return Error{ErrorCode::kInvalidArgument, "unknown terminal type (check TERM)"};
    }
    ::set_term(screen);
    ::cbreak();
    ::noecho();
    ::nonl();
    ::intrflush(stdscr, FALSE);
    ::keypad(stdscr, TRUE);
    ::set_escdelay(kEscDelayMs);
    ::timeout(static_cast<int>(options.key_wait.count()));
    (void)::curs_set(1);
    Palette p;
    if (::has_colors()) {
      ::start_color();
      const short background = ::use_default_colors() == OK ? -1 : COLOR_BLACK;
      ::init_pair(1, COLOR_WHITE, COLOR_RED);
      ::init_pair(2, COLOR_RED, background);
      ::init_pair(3, COLOR_CYAN, background);
      p.banner = static_cast<int>(COLOR_PAIR(1)) | A_BOLD;
      p.error = static_cast<int>(COLOR_PAIR(1)) | A_BOLD;
      p.changed = static_cast<int>(COLOR_PAIR(2)) | A_BOLD;
      p.failed = static_cast<int>(COLOR_PAIR(2)) | A_BOLD;
      p.info = static_cast<int>(COLOR_PAIR(3)) | A_BOLD;
    }
    return std::unique_ptr<Terminal>(new Terminal(screen, utf8, p));
  }
  ~Terminal() {
    ::endwin();
    ::delscreen(screen_);
  }
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  bool utf8() const { return utf8_; }
  const Palette& palette() const { return palette_; }

 private:
  Terminal(SCREEN* screen, bool utf8, Palette p) : screen_(screen), utf8_(utf8), palette_(p) {}
  SCREEN* screen_;
  bool utf8_;
  Palette palette_;
};

// --- The chat ----------------------------------------------------------------------------

class Chat {
 public:
  Chat(client::Messenger& m, const ChatOptions& options, const Terminal& terminal)
      : m_(m), options_(options), utf8_(terminal.utf8()), palette_(terminal.palette()) {}

  void Run() {
    Reload();
    next_poll_ = Clock::now();
    while (!quit_ && g_stop == 0) {
      if (dirty_) {
        Draw();
        dirty_ = false;
      }
      wint_t key = 0;
      const int got = ::get_wch(&key);
      if (got == KEY_CODE_YES) {
        OnKey(key);
      } else if (got == OK) {
        OnChar(static_cast<char32_t>(key));
      }
      if (!quit_ && g_stop == 0 && Clock::now() >= next_poll_) {
        Poll();
      }
    }
  }

 private:
  struct Entry {
    std::string id;
    std::string title;
    uint32_t unread = 0;
    bool changed = false;  // a 1:1 conversation whose safety number changed
  };
  struct Line {
    std::string text;
    int attr = A_NORMAL;
  };
  enum class Tone { kInfo, kError };

  // --- Model ---

  void Say(std::string text, Tone tone) {
    status_ = std::move(text);
    status_tone_ = tone;
    dirty_ = true;
  }
  void Fail(std::string_view what, const Error& e) {
    Say(std::string(what) + ": " + client::PersonError(e) + ".", Tone::kError);
  }

  const Entry* Find(std::string_view id) const {
    for (const auto& e : entries_) {
      if (e.id == id) {
        return &e;
      }
    }
    return nullptr;
  }
  bool Changed(std::string_view phone) const {
    return std::find(changed_.begin(), changed_.end(), phone) != changed_.end();
  }

  // Reload reads conversations, groups, contacts and the open conversation's messages from
  // the local store again.
  void Reload() {
    dirty_ = true;
    auto conversations = m_.Conversations();
    if (!conversations.ok()) {
      return Fail("Could not read the conversations", conversations.error());
    }
    auto groups = m_.Groups();
    if (!groups.ok()) {
      return Fail("Could not read the groups", groups.error());
    }
    auto contacts = m_.Contacts();
    if (!contacts.ok()) {
      return Fail("Could not read the contacts", contacts.error());
    }
    changed_.clear();
    for (const auto& c : *contacts) {
      if (c.identity_changed) {
        changed_.push_back(c.phone);
      }
    }
    std::map<std::string, std::string> group_titles;
    members_.clear();
    for (const auto& g : *groups) {
      const std::string id = std::string(kGroupPrefix) + g.id;
      group_titles[id] = "# " + g.name + (g.left ? " (left)" : "");
      members_[id] = g.left ? std::string("(you left)") : Join(g.members, ", ");
    }
    entries_.clear();
    for (const auto& c : *conversations) {
      std::erase(drafts_, c.id);
      Entry e{c.id, c.title.empty() ? c.id : c.title, c.unread, Changed(c.id)};
      if (auto title = group_titles.find(c.id); title != group_titles.end()) {
        e.title = title->second;
      }
      entries_.push_back(std::move(e));
    }
    for (auto it = drafts_.rbegin(); it != drafts_.rend(); ++it) {
      entries_.insert(entries_.begin(), Entry{*it, *it, 0, Changed(*it)});
    }
    for (const auto& g : *groups) {  // groups without a message yet
      const std::string id = std::string(kGroupPrefix) + g.id;
      if (!g.left && Find(id) == nullptr) {
        entries_.push_back(Entry{id, group_titles[id], 0, false});
      }
    }
    history_.clear();
    if (!open_.empty() && Find(open_) != nullptr) {
      auto h = m_.History(open_, options_.history_limit);
      if (!h.ok()) {
        return Fail("Could not read the conversation", h.error());
      }
      history_ = std::move(h).value();
    }
  }

  // Open shows a conversation and, when it has unread messages, marks them read (which
  // sends read receipts).
  void Open(const std::string& id) {
    if (id != open_) {
      open_ = id;
      scroll_ = 0;
      info_.clear();
    }
    Reload();
    if (const Entry* e = Find(open_); e != nullptr && e->unread > 0) {
      MarkOpenRead();
    }
  }

  void MarkOpenRead() {
    if (auto r = m_.MarkRead(open_); !r.ok()) {
      Fail("Could not send read receipts", r.error());
    }
    Reload();
  }

  void Move(int delta, bool wrap) {
    if (entries_.empty()) {
      return;
    }
    const int n = static_cast<int>(entries_.size());
    int at = -1;
    for (int i = 0; i < n; ++i) {
      if (entries_[static_cast<size_t>(i)].id == open_) {
        at = i;
      }
    }
    int next = 0;
    if (at >= 0) {
      next = wrap ? (at + delta + n) % n : std::clamp(at + delta, 0, n - 1);
    } else if (delta < 0 && wrap) {
      next = n - 1;
    }
    Open(entries_[static_cast<size_t>(next)].id);
  }

  void Poll() {
    auto events = m_.Receive(options_.receive_wait);
    const auto now = Clock::now();
    if (!events.ok()) {
      ++failures_;
      const auto wait = std::min<std::chrono::milliseconds>(
          options_.max_retry_interval,
          options_.poll_interval * (1 << std::min(failures_, kMaxBackoffShift)));
      next_poll_ = now + wait;
      Say("Offline: " + client::PersonError(events.error()) + ". Trying again in " +
              std::to_string((wait.count() + 999) / 1000) + " s.",
          Tone::kError);
      return;
    }
    next_poll_ = now + options_.poll_interval;
    if (failures_ > 0) {
      failures_ = 0;
      Say("Connected again.", Tone::kInfo);
    }
    if (!events->empty()) {
      OnEvents(*events);
    }
  }

  void OnEvents(const std::vector<client::Event>& events) {
    using K = client::Event::Kind;
    bool read_open = false;
    for (const auto& e : events) {
      switch (e.kind) {
        case K::kMessage:
          read_open = read_open || (!e.message.outgoing && e.message.conversation == open_);
          break;
        case K::kIdentityChanged:
          Say("The safety number of " + e.conversation + " changed. " +
                  (e.conversation == open_ ? "Compare" : "Open the conversation, compare") +
                  " it with /safety, accept it with /trust.",
              Tone::kError);
          break;
        case K::kUndecryptable:
          Say("A message" + (e.conversation.empty() ? "" : " from " + e.conversation) +
                  " could not be decrypted (" + e.message.text + ").",
              Tone::kError);
          break;
        case K::kServerNotice:
          Say("Notice from the server: " + e.message.text, Tone::kInfo);
          break;
        case K::kDelivered:
        case K::kRead:
        case K::kGroupUpdated:
          break;
        default:  // kinds added later: their text, if any, is for the user
          if (!e.message.text.empty()) {
            Say(e.message.text, Tone::kInfo);
          }
          break;
      }
    }
    Reload();
    if (read_open) {
      MarkOpenRead();  // the user is looking at it
    }
  }

  // --- Input ---

  void OnKey(wint_t key) {
    dirty_ = true;
    const int page = std::max(1, (LINES - 4) / 2);
    switch (key) {
      case KEY_UP:
        Move(-1, false);
        break;
      case KEY_DOWN:
        Move(1, false);
        break;
      case KEY_BTAB:
        Move(-1, true);
        break;
      case KEY_PPAGE:
        scroll_ += page;
        break;
      case KEY_NPAGE:
        scroll_ = std::max(0, scroll_ - page);
        break;
      case KEY_BACKSPACE:
        Backspace();
        break;
      case KEY_ENTER:
        Submit();
        break;
      case KEY_RESIZE:
        ::clearok(curscr, TRUE);
        break;
      default:
        break;
    }
  }

  void OnChar(char32_t c) {
    dirty_ = true;
    switch (c) {
      case U'\t':
        Move(1, true);
        return;
      case U'\r':
      case U'\n':
        Submit();
        return;
      case 0x03:  // Ctrl-C, when it arrives as a key rather than as SIGINT
      case 0x04:  // Ctrl-D
        quit_ = true;
        return;
      case 0x0c:  // Ctrl-L
        ::clearok(curscr, TRUE);
        return;
      case 0x15:  // Ctrl-U
        input_.clear();
        return;
      case 0x17:  // Ctrl-W: the last word
        while (!input_.empty() && input_.back() == U' ') {
          input_.pop_back();
        }
        while (!input_.empty() && input_.back() != U' ') {
          input_.pop_back();
        }
        return;
      case 0x08:
      case 0x7f:
        Backspace();
        return;
      case 0x1b:  // Esc closes the info panel
        info_.clear();
        return;
      default:
        break;
    }
    const bool not_a_character = c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff);
    if (not_a_character || IsTerminalControl(c) || (!utf8_ && c >= 0x80) ||
        input_.size() >= kMaxInputChars) {
      return;
    }
    input_.push_back(c);
  }

  void Backspace() {
    if (!input_.empty()) {
      input_.pop_back();
    }
  }

  void Submit() {
    const std::string line = Trim(Utf8(input_));
    if (line.empty()) {
      return;
    }
    status_.clear();
    if (line.starts_with("//")) {
      Send(line.substr(1));  // a message that starts with "/"
    } else if (line.starts_with("/")) {
      input_.clear();
      Command(line);
    } else {
      Send(line);
    }
  }

  void Send(const std::string& text) {
    if (open_.empty()) {
      return Say(
          "No conversation is open: pick one with Up/Down or Tab, or start one with /to "
          "PHONE.",
          Tone::kError);
    }
    if (!IsGroup(open_) && !IsE164(open_)) {
      return Say("Nothing can be sent here: this conversation only collects notices.",
                 Tone::kError);
    }
    auto sent = IsGroup(open_) ? m_.SendGroupText(open_.substr(kGroupPrefix.size()), text)
                               : m_.SendText(open_, text);
    Reload();  // shows the message, or that it failed
    if (!sent.ok()) {
      // The text stays on the input line, to send again.
      if (sent.code() == ErrorCode::kUntrustedIdentity) {
        return Say("Not sent: " + (IsGroup(open_) ? std::string("a member's") : open_ + "'s") +
                       " safety number changed. Compare it with /safety, accept it with "
                       "/trust, then send again.",
                   Tone::kError);
      }
      return Fail("Not sent", sent.error());
    }
    input_.clear();
    scroll_ = 0;
  }

  void Command(const std::string& line) {
    const std::vector<std::string> words = Words(line);
    const std::string& cmd = words[0];
    if (cmd == "/quit" || cmd == "/exit" || cmd == "/q") {
      quit_ = true;
    } else if (cmd == "/help") {
      info_ = {
          "/to PHONE              open or start a conversation, e.g. /to +14155550123",
          "/group NAME PHONE...   create a group with these members",
          "/safety                the safety number of this conversation, to compare",
          "/trust                 accept the safety number (after comparing it)",
          "/quit                  leave (also Ctrl-C, Ctrl-D)",
          "Up/Down or Tab pick a conversation, PgUp/PgDn scroll, Esc closes this.",
          "A line starting with // sends a message that starts with /.",
      };
    } else if (cmd == "/to") {
      To(words);
    } else if (cmd == "/group") {
      CreateGroup(words);
    } else if (cmd == "/safety") {
      ShowSafetyNumber();
    } else if (cmd == "/trust") {
      TrustOpen();
    } else {
      Say("Unknown command " + cmd + ". Try /help.", Tone::kError);
    }
  }

  void To(const std::vector<std::string>& words) {
    if (words.size() != 2) {
      return Say("Usage: /to PHONE, e.g. /to +14155550123", Tone::kError);
    }
    const std::string& id = words[1];
    if (Find(id) != nullptr) {
      return Open(id);
    }
    if (!IsE164(id)) {
      return Say("A phone number is + and 8 to 15 digits, e.g. +14155550123.", Tone::kError);
    }
    if (id == m_.phone()) {
      return Say("That is this account's own number.", Tone::kError);
    }
    drafts_.push_back(id);
    Open(id);
    Say("New conversation with " + id + ": type a message and press Enter.", Tone::kInfo);
  }

  void CreateGroup(const std::vector<std::string>& words) {
    // The name is every word before the first phone number, so it may have spaces.
    std::vector<std::string> name;
    std::vector<std::string> phones;
    for (size_t i = 1; i < words.size(); ++i) {
      (phones.empty() && !words[i].starts_with("+") ? name : phones).push_back(words[i]);
    }
    if (name.empty() || phones.empty()) {
      return Say("Usage: /group NAME PHONE..., e.g. /group Book club +14155550123", Tone::kError);
    }
    const std::string title = Join(name, " ");
    auto id = m_.CreateGroup(title, phones);
    if (!id.ok()) {
      return Fail("The group was not created", id.error());
    }
    Open(std::string(kGroupPrefix) + *id);
    Say("Created the group " + title + ".", Tone::kInfo);
  }

  bool RequireOneToOne(std::string_view what) {
    if (open_.empty() || !IsE164(open_)) {
      Say(std::string(what) + " is for a conversation with one person: open it first.",
          Tone::kError);
      return false;
    }
    return true;
  }

  void ShowSafetyNumber() {
    if (!RequireOneToOne("/safety")) {
      return;
    }
    auto n = m_.SafetyNumber(open_);
    if (!n.ok()) {
      return Fail("No safety number", n.error());
    }
    info_.clear();
    shown_safety_[open_] = n->displayable;  // what /trust will accept, and nothing else
    info_.push_back((Changed(open_) ? "The NEW safety number with " : "The safety number with ") +
                    open_ + ":");
    constexpr size_t kGroupDigits = 5;
    constexpr size_t kGroupsPerLine = 4;
    std::string row;
    for (size_t i = 0; i < n->displayable.size(); i += kGroupDigits) {
      row += (row.empty() ? "    " : " ") + n->displayable.substr(i, kGroupDigits);
      if ((i / kGroupDigits) % kGroupsPerLine == kGroupsPerLine - 1) {
        info_.push_back(std::move(row));
        row.clear();
      }
    }
    if (!row.empty()) {
      info_.push_back(std::move(row));
    }
    info_.push_back("Compare it with theirs, in person or on a call. If it matches: /trust");
  }

  void TrustOpen() {
    if (!RequireOneToOne("/trust")) {
      return;
    }
    const auto shown = shown_safety_.find(open_);
    if (shown == shown_safety_.end()) {
      return Say("Compare the safety number first: /safety", Tone::kError);
    }
    auto r = m_.Trust(open_, shown->second);
    shown_safety_.erase(shown);
    if (!r.ok()) {
      return Fail("Not accepted", r.error());
    }
    info_.clear();
    Reload();
    Say("You accepted the safety number of " + open_ + " and marked it verified.", Tone::kInfo);
  }

  // --- View ---

  void Put(int y, int x, int width, std::string_view text, int attr) {
    if (width <= 0) {
      return;
    }
    ::attrset(attr);
    ::mvaddstr(y, x, Fit(text, width, utf8_).c_str());
    ::attrset(A_NORMAL);
  }

  void Draw() {
    ::erase();
    const int rows = LINES;
    const int cols = COLS;
    if (rows < kMinRows || cols < kMinCols) {
      Put(0, 0, cols, "Terminal too small.", A_BOLD);
      ::refresh();
      return;
    }
    DrawTop(cols);
    const int body_rows = rows - 3;
    const int list_width = std::clamp(cols / 3, kMinListWidth, kMaxListWidth);
    DrawList(1, body_rows, list_width);
    ::mvvline(1, list_width, '|', body_rows);
    DrawConversation(1, list_width + 2, body_rows, cols - list_width - 3);
    Put(rows - 2, 0, cols, " " + (status_.empty() ? std::string(kHint) : status_),
        status_.empty() || status_tone_ == Tone::kInfo ? palette_.status : palette_.error);
    DrawInput(rows - 1, cols);
    ::refresh();
  }

  void DrawTop(int cols) {
    if (changed_.empty()) {
      Put(0, 0, cols,
          " holdfast  " + m_.phone() + "  (device " + std::to_string(m_.device_id()) + ")",
          palette_.title);
      return;
    }
    Put(0, 0, cols,
        " !! SAFETY NUMBER CHANGED for " + Join(changed_, ", ") +
            ": sending to them is paused. Compare with /safety, accept with /trust. !!",
        palette_.banner);
  }

  void DrawList(int top, int rows, int width) {
    Put(top, 0, width, " Conversations", palette_.header);
    if (entries_.empty()) {
      Put(top + 2, 0, width, " none yet: /to PHONE", palette_.notice);
      return;
    }
    const int slots = rows - 1;
    int first = 0;
    for (int i = 0; i < static_cast<int>(entries_.size()); ++i) {
      if (entries_[static_cast<size_t>(i)].id == open_ && i >= slots) {
        first = i - slots + 1;
      }
    }
    for (int row = 0; row < slots; ++row) {
      const size_t i = static_cast<size_t>(first + row);
      if (i >= entries_.size()) {
        break;
      }
      const Entry& e = entries_[i];
      const bool open = e.id == open_;
      const std::string unread = e.unread > 0 ? " (" + std::to_string(e.unread) + " unread)" : "";
      const int unread_width = static_cast<int>(unread.size());
      const int title_width = std::max(1, width - 3 - unread_width);
      std::string text = (open ? ">" : " ") + std::string(e.changed ? "!" : " ") +
                         Fit(e.title, title_width, utf8_) + unread;
      Put(top + 1 + row, 0, width, text,
          open ? palette_.selected : (e.changed ? palette_.changed : A_NORMAL));
    }
  }

  std::vector<Line> MessageLines(int width) const {
    std::vector<Line> lines;
    constexpr int kIndent = 6;
    for (const Message& m : history_) {
      std::string text;
      int attr = A_NORMAL;
      if (m.notice) {
        text = When(m.timestamp) + "  -- " + m.text + " --";
        attr = palette_.notice;
      } else if (m.outgoing) {
        text = When(m.timestamp) + "  me: " + m.text + "  " + std::string(Mark(m));
        attr = m.status == Message::Status::kFailed ? palette_.failed : A_NORMAL;
      } else {
        text = When(m.timestamp) + "  " + m.sender + ": " + m.text;
      }
      for (auto& l : Wrap(text, width, kIndent, utf8_)) {
        lines.push_back(Line{std::move(l), attr});
      }
    }
    return lines;
  }

  void DrawConversation(int top, int left, int rows, int width) {
    if (width < 10) {
      return;
    }
    if (open_.empty()) {
      const std::vector<std::string> help = {
          "No conversation is open.",
          "",
          "Pick one with Up/Down or Tab, or start one: /to +14155550123",
          "Create a group: /group NAME PHONE...",
          "Leave: /quit or Ctrl-C",
      };
      for (size_t i = 0; i < help.size() && static_cast<int>(i) + 1 < rows; ++i) {
        Put(top + 1 + static_cast<int>(i), left, width, help[i], A_NORMAL);
      }
      return;
    }
    // Clamped before the header says whether there is more to see.
    const std::vector<Line> lines = MessageLines(width);
    const int total = static_cast<int>(lines.size());
    const int space = rows - 1 - static_cast<int>(info_.size());
    scroll_ = std::clamp(scroll_, 0, std::max(0, total - std::max(space, 0)));
    const Entry* e = Find(open_);
    std::string header = e != nullptr ? e->title : open_;
    if (auto members = members_.find(open_); members != members_.end()) {
      header += "   with " + members->second;
    }
    if (Changed(open_)) {
      header += "   SAFETY NUMBER CHANGED: /safety to compare, /trust to accept";
    }
    if (scroll_ > 0) {
      header += "   [older messages; PgDn for newer]";
    }
    Put(top, left, width, header, Changed(open_) ? palette_.changed : palette_.header);
    int y = top + 1;
    for (const auto& line : info_) {
      if (y >= top + rows) {
        break;
      }
      Put(y++, left, width, line, palette_.info);
    }
    if (space <= 0) {
      return;
    }
    const int end = total - scroll_;
    const int begin = std::max(0, end - space);
    if (total == 0) {
      Put(y, left, width, "No messages yet.", palette_.notice);
      return;
    }
    // Newest at the bottom, like every chat.
    int row = top + rows - (end - begin);
    for (int i = begin; i < end; ++i) {
      Put(row++, left, width, lines[static_cast<size_t>(i)].text,
          lines[static_cast<size_t>(i)].attr);
    }
  }

  void DrawInput(int row, int cols) {
    constexpr std::string_view kPrompt = "> ";
    const int room = cols - static_cast<int>(kPrompt.size()) - 1;
    std::vector<Glyph> shown = Glyphs(Utf8(input_), utf8_);
    // Long input scrolls: the end, where the cursor is, stays visible.
    int width = Width(shown);
    size_t skip = 0;
    while (width > room && skip < shown.size()) {
      width -= shown[skip++].width;
    }
    shown.erase(shown.begin(), shown.begin() + static_cast<std::ptrdiff_t>(skip));
    Put(row, 0, cols - 1, std::string(kPrompt) + Encode(shown), A_NORMAL);
    ::move(row, static_cast<int>(kPrompt.size()) + width);
  }

  client::Messenger& m_;
  const ChatOptions options_;
  const bool utf8_;
  const Palette palette_;

  std::vector<Entry> entries_;                  // the left pane, top to bottom
  std::vector<std::string> drafts_;             // opened with /to, no message yet
  std::map<std::string, std::string> shown_safety_;  // phone -> the number /safety showed
  std::vector<std::string> changed_;            // phones whose new safety number waits for /trust
  std::map<std::string, std::string> members_;  // group conversation -> its other members
  std::string open_;                            // the open conversation's id; "" for none
  std::vector<Message> history_;                // its messages, oldest first
  std::vector<std::string> info_;               // a panel above the messages (/safety, /help)
  int scroll_ = 0;                              // lines scrolled back from the newest
  std::u32string input_;
  std::string status_;
  Tone status_tone_ = Tone::kInfo;
  Clock::time_point next_poll_;
  int failures_ = 0;  // polls failed in a row
  bool dirty_ = true;
  bool quit_ = false;
};

}  // namespace

Result<void> RunChat(client::Messenger& m, const ChatOptions& options) {
  if (!m.registered()) {
    return Error{ErrorCode::kNotFound,
                 "this device is not registered: run holdfast register PHONE first"};
  }
  StopSignals signals;
  HF_ASSIGN_OR_RETURN(std::unique_ptr<Terminal> terminal, Terminal::Open(options));
  Chat chat(m, options, *terminal);
  chat.Run();
  return Ok();
}

}  // namespace holdfast::app
