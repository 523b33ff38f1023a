#include "client.h"

#include <algorithm>
#include <utility>

namespace holdfast::load {

namespace {

constexpr std::chrono::milliseconds kFirstBackoff{25};
constexpr std::chrono::milliseconds kMaxBackoff{1000};
constexpr uint64_t kMaxRetryAfterMs = 5000;

}  // namespace

Client::Client(Env& env, size_t context, Account account, size_t ordinal)
    : env_(env),
      context_(context % env.threads()),
      account_(std::move(account)),
      ordinal_(ordinal),
      timer_(env.context(context_)) {}

bool Client::CanReconnect() const {
  return reconnect_ && !stopped_ && !env_.interrupted() && SteadyClock::now() < reconnect_until_;
}

void Client::Start(bool authenticate) {
  stopped_ = false;
  want_auth_ = authenticate;
  attempt_ = 0;
  Connect();
}

void Client::Connect() {
  const uint64_t gen = ++generation_;
  connected_ = authenticated_ = ready_ = auth_sent_ = false;
  conn_ = Connection::Create(env_, context_);
  conn_->set_push_handler([this, gen](pb::Push& push) {
    if (gen == generation_) {
      OnPush(push);
    }
  });
  conn_->set_close_handler([this, gen](std::string_view why) {
    if (gen == generation_) {
      Down(why, ErrorKind::kDisconnect);
    }
  });
  conn_->Open(env_.Source(ordinal_), [this, gen](std::string_view error) {
    if (gen != generation_) {
      return;
    }
    if (!error.empty()) {
      return Down(error, ErrorKind::kConnect);
    }
    connected_ = true;
    if (events_.on_connected) {
      events_.on_connected(*this);
    }
    if (want_auth_ && connected_ && !auth_sent_ && gen == generation_) {
      SendAuth();
    }
  });
}

void Client::Authenticate() {
  want_auth_ = true;
  if (connected_ && !auth_sent_) {
    SendAuth();
  }
}

void Client::SendAuth() {
  auth_sent_ = true;
  pb::Request r;
  auto* auth = r.mutable_auth();
  auth->set_account_id(account_.account_id);
  auth->set_device_id(account_.device_id);
  auth->set_credential(account_.credential);
  const uint64_t gen = generation_;
  conn_->Send(std::move(r), [this, gen](const pb::Response* response) {
    if (gen != generation_ || stopped_ || response == nullptr) {
      return;  // a lost connection is handled by the close handler
    }
    switch (response->status()) {
      case pb::OK:
        authenticated_ = true;
        return;
      case pb::RATE_LIMITED: {
        ++env_.counters().rate_limited;
        const uint64_t ms = std::clamp<uint64_t>(response->retry_after_ms(), 1, kMaxRetryAfterMs);
        timer_.expires_after(std::chrono::milliseconds(ms));
        timer_.async_wait([this, gen](const boost::system::error_code& ec) {
          if (!ec && gen == generation_ && !stopped_ && connected_) {
            SendAuth();
          }
        });
        return;
      }
      case pb::UNAVAILABLE:
        // The server's storage failed: try again on a new connection (if reconnecting).
        env_.counters().Error(ErrorKind::kAuth, response->message());
        conn_->Close();
        return;
      default: {
        env_.counters().Error(ErrorKind::kAuth, std::string(wire::StatusName(response->status())) +
                                                    ": " + response->message());
        // A refused credential does not get better by retrying.
        stopped_ = true;
        conn_->Close();
        connected_ = authenticated_ = ready_ = false;
        if (events_.on_down) {
          events_.on_down(*this, true);
        }
        return;
      }
    }
  });
}

void Client::OnPush(pb::Push& push) {
  if (push.has_envelope()) {
    if (events_.on_envelope) {
      events_.on_envelope(*this, *push.mutable_envelope());
    }
    return;
  }
  if (push.has_queue_empty()) {
    if (!ready_) {
      ready_ = true;
      attempt_ = 0;
      if (events_.on_ready) {
        events_.on_ready(*this);
      }
    }
    return;
  }
  env_.counters().Error(ErrorKind::kBadFrame, "a push of an unknown kind");
}

void Client::Down(std::string_view why, ErrorKind kind) {
  connected_ = authenticated_ = ready_ = false;
  if (stopped_) {
    return;
  }
  env_.counters().Error(kind, why);
  const bool again = CanReconnect();
  if (events_.on_down) {
    events_.on_down(*this, !again);
  }
  if (!again) {
    stopped_ = true;
    return;
  }
  const auto backoff = std::min<std::chrono::milliseconds>(
      kMaxBackoff, kFirstBackoff * (1U << std::min(attempt_, 6U)));
  const auto jitter = std::chrono::milliseconds(
      env_.filler(context_).Uniform(static_cast<uint64_t>(backoff.count() / 2 + 1)));
  ++attempt_;
  const uint64_t gen = generation_;
  timer_.expires_after(backoff + jitter);
  timer_.async_wait([this, gen](const boost::system::error_code& ec) {
    if (ec || gen != generation_ || stopped_) {
      return;
    }
    if (!CanReconnect()) {
      stopped_ = true;
      if (events_.on_down) {
        events_.on_down(*this, true);
      }
      return;
    }
    ++env_.counters().reconnects;
    Connect();
  });
}

void Client::Stop() {
  stopped_ = true;
  ++generation_;  // handlers of the current connection and timer do nothing from now on
  timer_.cancel();
  if (conn_) {
    conn_->Close();
  }
  connected_ = authenticated_ = ready_ = false;
}

bool Client::Send(pb::Request request, Connection::ResponseHandler handler) {
  if (!authenticated_ || !conn_ || !conn_->open()) {
    return false;
  }
  conn_->Send(std::move(request), std::move(handler));
  return true;
}

}  // namespace holdfast::load
