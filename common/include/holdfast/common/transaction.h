// InTransaction: run a body between a store's Begin and Commit, rolling back on any failure.
// For any store with Result<void> Begin(), Result<void> Commit() and void Rollback() whose
// Rollback after a failed Commit is harmless (the protocol store and the client's store).
#ifndef HOLDFAST_COMMON_TRANSACTION_H_
#define HOLDFAST_COMMON_TRANSACTION_H_

#include "holdfast/common/result.h"

namespace holdfast {

template <typename T, typename Store, typename Body>
Result<T> InTransaction(Store& store, Body body) {
  HF_RETURN_IF_ERROR(store.Begin());
  Result<T> r = body();
  if (!r.ok()) {
    store.Rollback();
    return r;
  }
  if (auto c = store.Commit(); !c.ok()) {
    store.Rollback();
    return c.error();
  }
  return r;
}

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_TRANSACTION_H_
