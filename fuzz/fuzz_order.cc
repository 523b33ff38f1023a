// The lawful-disclosure parsers from untrusted bytes: a submitted order file (what an
// authority, or anyone reaching the intake endpoint, sends), a policy file, and a log entry
// (what the auditor reads from a published log). The first byte picks the parser. Nothing
// may crash; an order that parses must canonicalize back to the bytes its hash covers, and a
// log entry that reads must write back to an entry that reads the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "holdfast/crypto/hash.h"
#include "holdfast/legal/disclosure.h"
#include "holdfast/legal/jcs.h"
#include "holdfast/legal/order.h"
#include "holdfast/legal/policy.h"

using namespace holdfast;  // NOLINT(google-build-using-namespace): a fuzz entry point

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      const auto parsed = legal::ParseOrderFile(text);
      if (parsed.failure.has_value() != !parsed.order.has_value()) {
        std::abort();
      }
      if (parsed.order) {
        const auto digest = crypto::Sha256(AsBytes(parsed.canonical));
        if (!std::equal(digest.begin(), digest.end(), parsed.order_hash.begin())) {
          std::abort();
        }
        // The order as read may be written in another form than it came in (times, the
        // order of requested data), but that form must read back to itself.
        const std::string normal = legal::CanonicalOrder(*parsed.order);
        const std::string file =
            "{\"order\":" + normal + ",\"signature\":\"" + std::string(86, 'A') + "==\"}";
        const auto again = legal::ParseOrderFile(file);
        if (!again.order || again.canonical != normal ||
            legal::CanonicalOrder(*again.order) != normal) {
          std::abort();
        }
      }
      break;
    }
    case 1: {
      auto policy = legal::ParsePolicy(text);
      if (policy.ok()) {
        auto back = legal::PolicyFromJson(legal::PolicyToJson(*policy));
        if (!back.ok() || legal::PolicyToJson(*back) != legal::PolicyToJson(*policy)) {
          std::abort();
        }
      }
      break;
    }
    default: {
      auto j = legal::ParseStrictJson(text);
      if (!j.ok()) {
        break;
      }
      auto d = legal::DecisionFromLogEntry(*j);
      if (d.ok()) {
        const auto entry = legal::DecisionToLogEntry(*d);
        auto again = legal::DecisionFromLogEntry(entry);
        if (!again.ok() || legal::DecisionToLogEntry(*again) != entry) {
          std::abort();
        }
      }
      break;
    }
  }
  return 0;
}
