// Client-server frames from untrusted bytes: the decoder must refuse or accept, never crash,
// and whatever it accepts must encode again.
#include <cstddef>
#include <cstdint>

#include "holdfast/wire/frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint64_t request_id = 0;
  auto frame = holdfast::wire::DecodeFrame(holdfast::ByteSpan(data, size), &request_id);
  if (frame.ok()) {
    auto copy = *frame;
    (void)holdfast::wire::EncodeFrame(copy);
  }
  return 0;
}
