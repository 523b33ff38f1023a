// The full-screen chat of `holdfast chat`: conversations on the left, the open conversation on
// the right, an input line at the bottom, and a status bar for what just happened. It runs on
// one client::Messenger and polls it for new messages; everything it draws is plaintext the
// user is meant to see, never key material.
//
// Keys: Up/Down (or Tab, Shift-Tab) pick a conversation, PgUp/PgDn scroll it, Enter sends the
// input line to it, Ctrl-L redraws, Ctrl-C or Ctrl-D quits. Commands typed on the input line:
//   /to PHONE                open (or start) a conversation with a phone number
//   /group NAME PHONE...     create a group and open it
//   /safety                  show the safety number of the open 1:1 conversation
//   /trust                   accept that safety number (after it changed)
//   /help, /quit
#ifndef HOLDFAST_APPS_HOLDFAST_TUI_H_
#define HOLDFAST_APPS_HOLDFAST_TUI_H_

#include <chrono>
#include <cstddef>

#include "holdfast/client/messenger.h"
#include "holdfast/common/result.h"

namespace holdfast::app {

struct ChatOptions {
  // poll_interval is how often the server is asked for new messages while all is well.
  std::chrono::milliseconds poll_interval{1000};
  // receive_wait is how long one poll waits for more once the queue is drained. The
  // keyboard is not read meanwhile, so it stays short.
  std::chrono::milliseconds receive_wait{200};
  // key_wait is how long one read of the keyboard blocks before the loop looks at the clock.
  std::chrono::milliseconds key_wait{100};
  // max_retry_interval bounds the back-off between polls while the server is unreachable.
  std::chrono::milliseconds max_retry_interval{30000};
  // history_limit is how many messages of the open conversation are loaded.
  size_t history_limit = 200;
};

// RunChat takes over the terminal until the user quits (/quit, Ctrl-C, Ctrl-D, SIGTERM or
// SIGHUP), then restores it. Failures while chatting are shown in the status bar and never
// end the chat. It fails only before the screen is set up: kInvalidArgument when stdin or
// stdout is not a terminal (or the terminal type is unknown), kNotFound when `m` is not
// registered. `m` must outlive the call; RunChat is its only user meanwhile.
[[nodiscard]] Result<void> RunChat(client::Messenger& m, const ChatOptions& options);

}  // namespace holdfast::app

#endif  // HOLDFAST_APPS_HOLDFAST_TUI_H_
