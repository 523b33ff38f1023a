// NameThisThread names the calling thread as top -H, ps -L and gdb show it, so that an
// operator can tell holdfastd's database, checkpoint and I/O threads apart.
#ifndef HOLDFAST_COMMON_THREAD_NAME_H_
#define HOLDFAST_COMMON_THREAD_NAME_H_

#include <string>

namespace holdfast {

// NameThisThread names the calling thread. Linux keeps 15 bytes of a name; longer names
// are cut to that. Never fails: a thread that cannot be named keeps its old name.
void NameThisThread(const std::string& name);

// ThisThreadName is the calling thread's name ("" if it cannot be read).
std::string ThisThreadName();

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_THREAD_NAME_H_
