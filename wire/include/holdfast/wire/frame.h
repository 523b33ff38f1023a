// Frames of Holdfast's client-server protocol (docs/wire.md): one protobuf Frame per binary
// WebSocket message, in either direction.
#ifndef HOLDFAST_WIRE_FRAME_H_
#define HOLDFAST_WIRE_FRAME_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "proto/holdfast_wire.pb.h"

namespace holdfast::wire {


// kProtocolVersion is the only Frame.version this code speaks.
inline constexpr uint32_t kProtocolVersion = 1;
// kDefaultMaxEnvelopeBytes is the default limit on one envelope's content.
inline constexpr size_t kDefaultMaxEnvelopeBytes = 256 * 1024;
// kMaxDevicesPerAccount bounds a send request: the primary and up to 5 linked devices.
inline constexpr uint32_t kMaxDevicesPerAccount = 6;
// kMaxFrameBytes bounds any frame: a send to every device of an account at the envelope
// limit, plus room for the fields around them. Larger frames are refused unread.
inline constexpr size_t kMaxFrameBytes = kMaxDevicesPerAccount * kDefaultMaxEnvelopeBytes + 16384;
// Sizes of the fixed-length fields.
inline constexpr size_t kAccountIdBytes = 16;
inline constexpr size_t kEnvelopeIdBytes = 16;
// kEnvelopeIdClockBytes is how much of a message envelope's id is the server's millisecond
// clock (big-endian); the rest is random. A notice's id is derived instead (docs/wire.md).
inline constexpr size_t kEnvelopeIdClockBytes = 6;
// EnvelopeId is an envelope id held inline, as a set or map key.
using EnvelopeId = std::array<uint8_t, kEnvelopeIdBytes>;
// EnvelopeIdHash hashes an id by its last 8 bytes, which are random in every id (a message
// id starts with the clock; a notice id is a hash).
struct EnvelopeIdHash {
  size_t operator()(const EnvelopeId& id) const {
    size_t h = 0;
    std::memcpy(&h, id.data() + id.size() - sizeof(h), sizeof(h));
    return h;
  }
};
inline constexpr size_t kAccessKeyBytes = 16;
inline constexpr size_t kMinCredentialBytes = 32;
inline constexpr size_t kMaxCredentialBytes = 64;
inline constexpr size_t kMaxDeviceNameBytes = 64;
inline constexpr uint32_t kMaxRegistrationId = 16380;
inline constexpr size_t kMaxPreKeysPerUpload = 100;

// DecodeFrame parses one frame of at most kMaxFrameBytes. Failures: kOversized (too large,
// not parsed), kMalformed (not a Frame, or no kind), kUnsupportedVersion (Frame.version is
// not kProtocolVersion; the frame did parse, and when it is a request its id is stored in
// `unsupported_request_id` so that the request can be answered).
Result<pb::Frame> DecodeFrame(ByteSpan bytes, uint64_t* unsupported_request_id = nullptr);

// EncodeFrame serializes a frame, setting its version to kProtocolVersion.
Bytes EncodeFrame(pb::Frame& frame);

// Response and push builders. They return frames ready for EncodeFrame.
pb::Frame ResponseFrame(uint64_t request_id, pb::Status status, std::string_view message = {});
pb::Frame OkFrame(uint64_t request_id);

// StatusName is the stable lower-case name of a status, e.g. "mismatched_devices".
std::string_view StatusName(pb::Status status);

}  // namespace holdfast::wire

#endif  // HOLDFAST_WIRE_FRAME_H_
