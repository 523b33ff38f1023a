#include "holdfast/common/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>

namespace holdfast {
namespace {

Result<int> Half(int v) {
  if (v % 2 != 0) {
    return Error{ErrorCode::kInvalidArgument, "odd"};
  }
  return v / 2;
}

Result<int> Quarter(int v) {
  HF_ASSIGN_OR_RETURN(int h, Half(v));
  HF_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Result<void> CheckEven(int v) {
  HF_RETURN_IF_ERROR(Half(v));
  return Ok();
}

TEST(Result, CarriesValueOrError) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(r.error().detail, "odd");
  EXPECT_TRUE(CheckEven(2).ok());
  EXPECT_EQ(CheckEven(3).code(), ErrorCode::kInvalidArgument);
}

TEST(Result, HoldsMoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 5);
}

TEST(ResultDeathTest, ValueOfFailureAborts) {
  Result<int> r = ErrorCode::kNotFound;
  EXPECT_DEATH({ (void)r.value(); }, "broken invariant");
}

TEST(Error, NamesAndMessagesAreStableAndDistinct) {
  const ErrorCode all[] = {
      ErrorCode::kTruncated,          ErrorCode::kTrailingData,
      ErrorCode::kMalformed,          ErrorCode::kOversized,
      ErrorCode::kInvalidEncoding,    ErrorCode::kInvalidArgument,
      ErrorCode::kUnsupportedVersion, ErrorCode::kAuthenticationFailed,
      ErrorCode::kInvalidKey,         ErrorCode::kWeakKey,
      ErrorCode::kDuplicateMessage,   ErrorCode::kUntrustedIdentity,
      ErrorCode::kUnknownPreKey,      ErrorCode::kInvalidSignature,
      ErrorCode::kNoSession,          ErrorCode::kCryptoFailure,
      ErrorCode::kNotFound,           ErrorCode::kAlreadyExists,
      ErrorCode::kStorageFailure,     ErrorCode::kUnavailable,
      ErrorCode::kInvalidProof,
  };
  std::set<std::string_view> names;
  for (ErrorCode c : all) {
    EXPECT_NE(ErrorName(c), "unknown");
    EXPECT_NE(ErrorMessage(c), "unknown error");
    names.insert(ErrorName(c));
  }
  EXPECT_EQ(names.size(), std::size(all));
  // The numbers are a public interface.
  EXPECT_EQ(static_cast<int>(ErrorCode::kTruncated), 100);
  EXPECT_EQ(static_cast<int>(ErrorCode::kAuthenticationFailed), 200);
  EXPECT_EQ(ErrorName(ErrorCode::kAuthenticationFailed), "authentication_failed");
}

}  // namespace
}  // namespace holdfast
