#include "holdfast/common/thread_name.h"

#include <pthread.h>

namespace holdfast {

namespace {
constexpr size_t kMaxNameBytes = 15;  // the kernel's TASK_COMM_LEN, less the terminator
}  // namespace

void NameThisThread(const std::string& name) {
  const std::string cut = name.substr(0, kMaxNameBytes);
  (void)pthread_setname_np(pthread_self(), cut.c_str());
}

std::string ThisThreadName() {
  char buf[kMaxNameBytes + 1] = {};
  if (pthread_getname_np(pthread_self(), buf, sizeof(buf)) != 0) {
    return "";
  }
  return buf;
}

}  // namespace holdfast
