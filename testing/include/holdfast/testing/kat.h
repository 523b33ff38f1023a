// The one harness that reads known-answer vector files.
//
// A vector file is text. Lines starting with '#' are comments. A test is a block of
// `Key = value` lines; blank lines separate blocks. A value is lower- or upper-case hex, or
// text in double quotes (taken byte for byte), or empty. See crypto/testdata/ for examples.
#ifndef HOLDFAST_TESTING_KAT_H_
#define HOLDFAST_TESTING_KAT_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "holdfast/common/bytes.h"

namespace holdfast::testing {

class KatBlock {
 public:
  KatBlock(std::string file, int line) : file_(std::move(file)), line_(line) {}

  // Where the block starts, as "file:line", for failure messages.
  std::string Where() const;
  bool Has(std::string_view key) const;
  // Bytes decodes a hex or quoted value. A missing key or bad hex fails the current test
  // and returns empty bytes.
  Bytes GetBytes(std::string_view key) const;
  // Text returns the value as written (the first one, if the key repeats).
  std::string Text(std::string_view key) const;
  // TextAll returns every value of a repeated key, in file order (empty when absent).
  std::vector<std::string> TextAll(std::string_view key) const;
  // Unquoted returns a quoted text value without its quotes.
  std::string Unquoted(std::string_view key) const;
  // Number parses a decimal value.
  uint64_t Number(std::string_view key) const;

  // Used by the parser.
  void Add(std::string key, std::string value) {
    values_[std::move(key)].push_back(std::move(value));
  }
  bool empty() const { return values_.empty(); }

 private:
  std::string file_;
  int line_;
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
};

// SourcePath resolves a path relative to the repository root.
std::filesystem::path SourcePath(std::string_view relative);

// SharedVectorsDir returns ../shared/vectors beside the repository (or $HOLDFAST_SHARED_VECTORS
// when set), or an empty path when that folder is missing: those public vectors are not
// copied into the repository, and tests that need them say so and skip.
std::filesystem::path SharedVectorsDir();

// ForEachKat calls `fn` for every block of the vector file at `relative` (from the repository
// root) and returns the number of blocks. An unreadable or malformed file, or one with no
// blocks, fails the current test.
size_t ForEachKat(std::string_view relative, const std::function<void(const KatBlock&)>& fn);

}  // namespace holdfast::testing

#endif  // HOLDFAST_TESTING_KAT_H_
