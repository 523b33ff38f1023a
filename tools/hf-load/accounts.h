// Setting up accounts for a load run: registration through the development codes file, and
// the --state file that lets later runs (e.g. --drain-only) use the same accounts.
#ifndef HOLDFAST_TOOLS_HF_LOAD_ACCOUNTS_H_
#define HOLDFAST_TOOLS_HF_LOAD_ACCOUNTS_H_

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "client.h"
#include "env.h"

namespace holdfast::load {

// CodeBook reads the codes file holdfastd --dev-codes appends to ("PHONE CODE" lines) and
// remembers the last code of each phone. It starts at the file's end when created, so old
// lines are never read. Thread-safe.
class CodeBook {
 public:
  explicit CodeBook(std::string path);
  // Find reads what was appended since the last call and returns the newest code for
  // `phone`, if any.
  std::optional<std::string> Find(const std::string& phone);

 private:
  static constexpr size_t kMaxLineBytes = 256;
  static constexpr size_t kMaxChunksPerRead = 1024;  // of 64 KiB
  void ReadNew();                                    // needs mu_

  std::mutex mu_;
  const std::string path_;
  uint64_t offset_ = 0;                                 // GUARDED_BY(mu_)
  std::string partial_;                                 // GUARDED_BY(mu_)
  std::unordered_map<std::string, std::string> codes_;  // GUARDED_BY(mu_)
};

// RegisterAccounts registers `count` new accounts with fresh phone numbers (+1555, five
// random digits, a six-digit index), over at most `concurrency` connections at once: each
// Register, then the code from the codes file, then Verify with a random 32-byte credential
// and registration id. RATE_LIMITED answers are retried after retry_after_ms; other failures
// are counted and the account retried a few times. kUnavailable unless all were registered
// by the deadline.
Result<std::vector<Account>> RegisterAccounts(Env& env, CodeBook& codes, size_t count,
                                              size_t concurrency, Deadline deadline);

// LoadState reads accounts saved by SaveState. The file is JSON:
//   {"version": 1, "accounts": [{"phone": "+1555...", "account_id": HEX, "device_id": 1,
//                                "credential": HEX, "registration_id": N}, ...]}
// Another version is kUnsupportedVersion; anything malformed is kMalformed; no file is
// kNotFound.
Result<std::vector<Account>> LoadState(const std::string& path);
// SaveState writes the file atomically (a temporary file, then rename).
Result<void> SaveState(const std::string& path, const std::vector<Account>& accounts);

}  // namespace holdfast::load

#endif  // HOLDFAST_TOOLS_HF_LOAD_ACCOUNTS_H_
