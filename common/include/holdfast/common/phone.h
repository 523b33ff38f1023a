// Phone numbers in E.164 form, the only form the protocol and lawful-disclosure orders accept.
#ifndef HOLDFAST_COMMON_PHONE_H_
#define HOLDFAST_COMMON_PHONE_H_

#include <string_view>

namespace holdfast {

// IsE164 is true for "+" followed by 8 to 15 digits, the first not 0 (ITU-T E.164: at most
// 15 digits, country codes start with 1-9; the shortest national numbers in use give 8).
bool IsE164(std::string_view phone);

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_PHONE_H_
