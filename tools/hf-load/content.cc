#include "content.h"

#include <algorithm>

namespace holdfast::load {

std::string MakeContent(const ContentHeader& header, size_t body_bytes, Rng& filler) {
  ByteWriter w(std::max(body_bytes, kContentHeaderBytes));
  w.WriteU32Be(kContentMagic);
  w.WriteU32Be(header.run);
  w.WriteU32Be(header.pair);
  w.WriteU32Be(header.seq);
  w.WriteU64Be(header.due_ns);
  w.WriteU64Be(header.sent_ns);
  std::string out(std::max(body_bytes, kContentHeaderBytes), '\0');
  std::copy(w.view().begin(), w.view().end(), out.begin());
  filler.Fill(MutableByteSpan(reinterpret_cast<uint8_t*>(out.data()) + kContentHeaderBytes,
                              out.size() - kContentHeaderBytes));
  return out;
}

Result<ContentHeader> ParseContent(ByteSpan content) {
  ByteReader r(content);
  HF_ASSIGN_OR_RETURN(const uint32_t magic, r.ReadU32Be());
  if (magic == kPreviousContentMagic) {
    return Error{ErrorCode::kUnsupportedVersion, "hf-load content of the previous layout"};
  }
  if (magic != kContentMagic) {
    return Error{ErrorCode::kMalformed, "not hf-load content"};
  }
  ContentHeader h;
  HF_ASSIGN_OR_RETURN(h.run, r.ReadU32Be());
  HF_ASSIGN_OR_RETURN(h.pair, r.ReadU32Be());
  HF_ASSIGN_OR_RETURN(h.seq, r.ReadU32Be());
  HF_ASSIGN_OR_RETURN(h.due_ns, r.ReadU64Be());
  HF_ASSIGN_OR_RETURN(h.sent_ns, r.ReadU64Be());
  return h;
}

}  // namespace holdfast::load
