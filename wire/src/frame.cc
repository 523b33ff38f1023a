#include "holdfast/wire/frame.h"

namespace holdfast::wire {

Result<pb::Frame> DecodeFrame(ByteSpan bytes, uint64_t* unsupported_request_id) {
  if (bytes.size() > kMaxFrameBytes) {
    return Error{ErrorCode::kOversized, "frame"};
  }
  pb::Frame frame;
  if (!frame.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
      frame.kind_case() == pb::Frame::KIND_NOT_SET) {
    return Error{ErrorCode::kMalformed, "frame"};
  }
  if (frame.version() != kProtocolVersion) {
    if (unsupported_request_id != nullptr && frame.has_request()) {
      *unsupported_request_id = frame.request().id();
    }
    return Error{ErrorCode::kUnsupportedVersion, "protocol version"};
  }
  return frame;
}

Bytes EncodeFrame(pb::Frame& frame) {
  frame.set_version(kProtocolVersion);
  Bytes out(frame.ByteSizeLong());
  frame.SerializeWithCachedSizesToArray(out.data());
  return out;
}

pb::Frame ResponseFrame(uint64_t request_id, pb::Status status, std::string_view message) {
  pb::Frame frame;
  pb::Response* r = frame.mutable_response();
  r->set_id(request_id);
  r->set_status(status);
  if (!message.empty()) {
    r->set_message(std::string(message));
  }
  return frame;
}

pb::Frame OkFrame(uint64_t request_id) { return ResponseFrame(request_id, pb::OK); }

std::string_view StatusName(pb::Status status) {
  switch (status) {
    case pb::OK: return "ok";
    case pb::MALFORMED: return "malformed";
    case pb::UNSUPPORTED_VERSION: return "unsupported_version";
    case pb::UNKNOWN_REQUEST: return "unknown_request";
    case pb::UNAUTHENTICATED: return "unauthenticated";
    case pb::FORBIDDEN: return "forbidden";
    case pb::NOT_FOUND: return "not_found";
    case pb::RATE_LIMITED: return "rate_limited";
    case pb::TOO_LARGE: return "too_large";
    case pb::INVALID_ARGUMENT: return "invalid_argument";
    case pb::INVALID_CODE: return "invalid_code";
    case pb::MISMATCHED_DEVICES: return "mismatched_devices";
    case pb::STALE_DEVICES: return "stale_devices";
    case pb::QUEUE_FULL: return "queue_full";
    case pb::LIMIT_REACHED: return "limit_reached";
    case pb::UNAVAILABLE: return "unavailable";
    case pb::INTERNAL: return "internal";
    default: return "unknown_status";
  }
}

}  // namespace holdfast::wire
