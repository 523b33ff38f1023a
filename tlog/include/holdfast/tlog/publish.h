// PublishTiles writes a log as the static files of C2SP tlog-tiles, for any web server.
#ifndef HOLDFAST_TLOG_PUBLISH_H_
#define HOLDFAST_TLOG_PUBLISH_H_

#include <string>

#include "holdfast/common/result.h"
#include "holdfast/tlog/log.h"

namespace holdfast::tlog {

// PublishTiles writes, under `dir`, every hash tile and entry bundle for the size of the
// log's latest signed checkpoint, then the checkpoint itself (so readers never see a
// checkpoint before its tiles). Full tiles and bundles already present are immutable and
// are skipped; every file is written to a temporary name and renamed into place. Returns the
// published size; kNotFound if the log has no checkpoint yet.
Result<uint64_t> PublishTiles(const Log& log, const std::string& dir);

}  // namespace holdfast::tlog

#endif  // HOLDFAST_TLOG_PUBLISH_H_
