// TileFetcher: reads a published log (checkpoint, hash tiles, entry bundles) by C2SP path,
// from a directory or over HTTP(S).
#ifndef HOLDFAST_TLOG_FETCH_H_
#define HOLDFAST_TLOG_FETCH_H_

#include <memory>
#include <string>
#include <string_view>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"

namespace holdfast::tlog {

// kMaxFetchBytes bounds one response: a full tile is 8 KiB, a bundle at most 16 MiB.
inline constexpr size_t kMaxFetchBytes = size_t{17} << 20;

class TileFetcher {
 public:
  virtual ~TileFetcher() = default;
  // Fetch returns the object at `path` ("checkpoint", "tile/0/000", ...). A missing object is
  // kNotFound; a transport failure or other HTTP status is kUnavailable.
  virtual Result<Bytes> Fetch(std::string_view path) = 0;
};

// NewDirectoryFetcher reads files under `dir`.
std::unique_ptr<TileFetcher> NewDirectoryFetcher(std::string dir);

// NewHttpFetcher reads from "http://host[:port][/prefix]" or "https://...". HTTPS checks the
// server certificate against the system's trusted roots and the host name. One connection
// is kept alive across fetches. A malformed URL is kInvalidArgument.
Result<std::unique_ptr<TileFetcher>> NewHttpFetcher(std::string_view url);

}  // namespace holdfast::tlog

#endif  // HOLDFAST_TLOG_FETCH_H_
