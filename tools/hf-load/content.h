// The content of hf-load's envelopes. The server treats it as opaque bytes; the receiver
// reads the header to measure latency and to find lost and repeated messages:
//
//   content := magic:u32be  run:u32be  pair:u32be  seq:u32be  due_ns:u64be  sent_ns:u64be
//              filler
//
// magic is kContentMagic; run is random per hf-load run (envelopes of other runs are acked
// and skipped). due_ns is when the schedule meant the message to go and sent_ns when the
// sender made it, both on the sender's monotonic clock (NowNs); they differ only in an open
// loop (--rate) whose sender fell behind its schedule. filler is random bytes up to
// --body-bytes.
#ifndef HOLDFAST_TOOLS_HF_LOAD_CONTENT_H_
#define HOLDFAST_TOOLS_HF_LOAD_CONTENT_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/common/rng.h"

namespace holdfast::load {

inline constexpr uint32_t kContentMagic = 0x68664c32;  // "hfL2"
// kPreviousContentMagic marks content of hf-load builds before due_ns (one timestamp):
// ParseContent calls it kUnsupportedVersion, so that such envelopes, left in a queue by an
// earlier run, count as stale rather than as errors.
inline constexpr uint32_t kPreviousContentMagic = 0x68664c31;  // "hfL1"
inline constexpr size_t kContentHeaderBytes = 32;

struct ContentHeader {
  uint32_t run = 0;
  uint32_t pair = 0;
  uint32_t seq = 0;
  uint64_t due_ns = 0;
  uint64_t sent_ns = 0;
};

// MakeContent returns max(body_bytes, kContentHeaderBytes) bytes: the header, then filler
// drawn from `filler`.
std::string MakeContent(const ContentHeader& header, size_t body_bytes, Rng& filler);

// ParseContent reads the header: kUnsupportedVersion for content of the previous layout,
// kMalformed if it is too short or has another magic.
Result<ContentHeader> ParseContent(ByteSpan content);

}  // namespace holdfast::load

#endif  // HOLDFAST_TOOLS_HF_LOAD_CONTENT_H_
