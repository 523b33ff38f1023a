#include "holdfast/common/phone.h"

namespace holdfast {

bool IsE164(std::string_view phone) {
  constexpr size_t kMinDigits = 8;
  constexpr size_t kMaxDigits = 15;
  if (phone.size() < 1 + kMinDigits || phone.size() > 1 + kMaxDigits || phone[0] != '+' ||
      phone[1] == '0') {
    return false;
  }
  for (size_t i = 1; i < phone.size(); ++i) {
    if (phone[i] < '0' || phone[i] > '9') {
      return false;
    }
  }
  return true;
}

}  // namespace holdfast
