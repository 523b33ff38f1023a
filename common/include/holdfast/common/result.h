// Result<T>: the return type of every fallible Holdfast function.
//
// Holds either a T or an Error. It is [[nodiscard]], so an ignored failure is a compile error
// under -Werror. Accessing the value of a failed Result (or the error of a successful one)
// is a broken invariant and aborts.
#ifndef HOLDFAST_COMMON_RESULT_H_
#define HOLDFAST_COMMON_RESULT_H_

#include <cstdlib>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "holdfast/common/error.h"

namespace holdfast {

namespace internal {
[[noreturn]] void ResultAccessAbort(const char* what);
}  // namespace internal

template <typename T>
class [[nodiscard]] Result {
 public:
  static_assert(!std::is_same_v<T, Error>, "Result<Error> is ambiguous");

  Result(const T& value) : state_(value) {}        // NOLINT(google-explicit-constructor)
  Result(T&& value) : state_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(error) {}           // NOLINT(google-explicit-constructor)
  Result(ErrorCode code) : state_(Error{code}) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  const T& value() const& {
    if (!ok()) {
      internal::ResultAccessAbort("value() of a failed Result");
    }
    return std::get<T>(state_);
  }
  T& value() & {
    if (!ok()) {
      internal::ResultAccessAbort("value() of a failed Result");
    }
    return std::get<T>(state_);
  }
  T&& value() && {
    if (!ok()) {
      internal::ResultAccessAbort("value() of a failed Result");
    }
    return std::get<T>(std::move(state_));
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  const Error& error() const {
    if (ok()) {
      internal::ResultAccessAbort("error() of a successful Result");
    }
    return std::get<Error>(state_);
  }
  ErrorCode code() const { return error().code; }

 private:
  std::variant<T, Error> state_;
};

// Result<void> carries only success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(error) {}           // NOLINT(google-explicit-constructor)
  Result(ErrorCode code) : error_(Error{code}) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    if (ok()) {
      internal::ResultAccessAbort("error() of a successful Result");
    }
    return *error_;
  }
  ErrorCode code() const { return error().code; }

 private:
  std::optional<Error> error_;
};

// Ok returns a successful Result<void>.
inline Result<void> Ok() { return {}; }

}  // namespace holdfast

#define HF_CONCAT_INNER_(a, b) a##b
#define HF_CONCAT_(a, b) HF_CONCAT_INNER_(a, b)

// HF_RETURN_IF_ERROR(expr) returns the error of a failed Result from the enclosing function.
#define HF_RETURN_IF_ERROR(expr) \
  do {                           \
    auto&& hf_result_ = (expr);  \
    if (!hf_result_.ok()) {      \
      return hf_result_.error(); \
    }                            \
  } while (false)

// HF_ASSIGN_OR_RETURN(lhs, expr) evaluates a Result; on success moves its value into `lhs`
// (which may be a declaration), on failure returns the error.
#define HF_ASSIGN_OR_RETURN(lhs, expr) \
  HF_ASSIGN_OR_RETURN_IMPL_(HF_CONCAT_(hf_r_, __LINE__), lhs, expr)
#define HF_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) {                                \
    return tmp.error();                           \
  }                                               \
  lhs = std::move(tmp).value()

#endif  // HOLDFAST_COMMON_RESULT_H_
