#include "holdfast/testing/kat.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cstdlib>
#include <fstream>

#include "holdfast/common/encoding.h"

namespace holdfast::testing {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

std::string KatBlock::Where() const { return file_ + ":" + std::to_string(line_); }

bool KatBlock::Has(std::string_view key) const { return values_.find(key) != values_.end(); }

std::string KatBlock::Text(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end()) {
    ADD_FAILURE() << Where() << ": missing key " << key;
    return {};
  }
  return it->second.front();
}

std::vector<std::string> KatBlock::TextAll(std::string_view key) const {
  auto it = values_.find(key);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::string KatBlock::Unquoted(std::string_view key) const {
  const std::string v = Text(key);
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') {
    ADD_FAILURE() << Where() << ": key " << key << " is not quoted text";
    return v;
  }
  return v.substr(1, v.size() - 2);
}

Bytes KatBlock::GetBytes(std::string_view key) const {
  const std::string v = Text(key);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
    return ToBytes(AsBytes(std::string_view(v).substr(1, v.size() - 2)));
  }
  auto decoded = HexDecode(v);
  if (!decoded.ok()) {
    ADD_FAILURE() << Where() << ": key " << key << " is not hex";
    return {};
  }
  return *decoded;
}

uint64_t KatBlock::Number(std::string_view key) const {
  const std::string v = Text(key);
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || ptr != v.data() + v.size()) {
    ADD_FAILURE() << Where() << ": key " << key << " is not a decimal number";
  }
  return n;
}

std::filesystem::path SourcePath(std::string_view relative) {
  return std::filesystem::path(HOLDFAST_SOURCE_DIR) / relative;
}

std::filesystem::path SharedVectorsDir() {
  std::filesystem::path dir;
  if (const char* env = std::getenv("HOLDFAST_SHARED_VECTORS"); env != nullptr && *env != '\0') {
    dir = env;
  } else {
    dir = std::filesystem::path(HOLDFAST_SOURCE_DIR).parent_path() / "shared" / "vectors";
  }
  std::error_code ec;
  return std::filesystem::is_directory(dir, ec) ? dir : std::filesystem::path();
}

size_t ForEachKat(std::string_view relative, const std::function<void(const KatBlock&)>& fn) {
  const auto path = SourcePath(relative);
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "cannot open vector file " << path;
    return 0;
  }
  const std::string name(relative);
  size_t count = 0;
  int line_no = 0;
  KatBlock block(name, 1);
  auto flush = [&] {
    if (!block.empty()) {
      SCOPED_TRACE(block.Where());
      fn(block);
      ++count;
    }
  };
  std::string line;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string_view t = Trim(line);
    if (t.empty()) {
      flush();
      block = KatBlock(name, line_no + 1);
      continue;
    }
    if (t.front() == '#') {
      if (block.empty()) {
        block = KatBlock(name, line_no + 1);
      }
      continue;
    }
    const size_t eq = t.find('=');
    if (eq == std::string_view::npos) {
      ADD_FAILURE() << name << ":" << line_no << ": expected `Key = value`";
      return count;
    }
    block.Add(std::string(Trim(t.substr(0, eq))), std::string(Trim(t.substr(eq + 1))));
  }
  flush();
  EXPECT_GT(count, 0u) << name << " holds no test blocks";
  return count;
}

}  // namespace holdfast::testing
