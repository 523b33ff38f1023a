#include "holdfast/server/database.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <utility>
#include <vector>

#include "holdfast/common/thread_name.h"
#include "post_batch.h"

namespace holdfast::server {

Database::Database(std::unique_ptr<Storage> storage, size_t max_batch, size_t max_batch_bytes)
    : storage_(std::move(storage)),
      max_batch_(max_batch == 0 ? 1 : max_batch),
      max_batch_bytes_(max_batch_bytes) {
  thread_ = std::thread([this] {
    NameThisThread("hf-database");
    Loop();
  });
}

Database::~Database() { Stop(); }

void Database::Submit(Work work, Done done, size_t bytes) {
  Enqueue(Item{std::move(work), std::move(done), /*savepoint=*/true, bytes});
}

void Database::SubmitOneWrite(Work work, Done done, size_t bytes) {
  Enqueue(Item{std::move(work), std::move(done), /*savepoint=*/false, bytes});
}

void Database::Enqueue(Item item) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(item));
      cv_.notify_one();
      return;
    }
  }
  if (item.done) {
    item.done(Error{ErrorCode::kUnavailable, "database stopping"});
  }
}

Result<void> Database::Run(Work work) {
  std::promise<Result<void>> promise;
  auto future = promise.get_future();
  Submit(std::move(work), [&promise](Result<void> r) { promise.set_value(std::move(r)); });
  return future.get();
}

void Database::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) {
      return;
    }
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable() && !OnThread()) {
    thread_.join();
  }
}

void Database::SetCommitObserver(CommitObserver observer) {
  std::lock_guard<std::mutex> lock(mu_);
  observer_ = std::move(observer);
}

DatabaseStats Database::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void Database::Loop() {
  std::deque<Item> batch;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        return;  // stopping, and everything submitted has run
      }
      size_t room = max_batch_bytes_;  // declared bytes the batch may still take
      while (!queue_.empty() && batch.size() < max_batch_ &&
             (batch.empty() || queue_.front().bytes <= room)) {
        room -= std::min(queue_.front().bytes, room);
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    RunBatch(batch);
    batch.clear();
  }
}

void Database::RunBatch(std::deque<Item>& batch) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<Result<void>> results;
  results.reserve(batch.size());
  Result<void> commit = storage_->Begin();
  if (commit.ok()) {
    for (Item& item : batch) {
      // Outside a transaction (SQLite rolls one back by itself on some errors) the work's
      // statements would each commit on their own: refuse to run it.
      Result<void> r = Ok();
      if (item.savepoint) {
        r = storage_->Savepoint();  // refuses outside a transaction, too
      } else if (!storage_->InTransaction()) {
        r = Error{ErrorCode::kStorageFailure, "no transaction (rolled back by SQLite)"};
      }
      if (r.ok()) {
        r = item.work(*storage_);
        if (item.savepoint) {
          if (r.ok()) {
            if (auto released = storage_->Release(); !released.ok()) {
              // The item's writes stay in the transaction, but it would be reported failed:
              // keep nothing of this batch rather than answer "not stored" for stored work.
              commit = released;
              break;
            }
          } else if (auto undone = storage_->RollbackToSavepoint(); !undone.ok()) {
            // The item's writes could not be undone (or SQLite already rolled the whole
            // transaction back): nothing of this batch may be kept.
            commit = undone;
            break;
          }
        }
        // A one-write item's failed statement may have taken the whole transaction with it:
        // then the next item finds none, and the commit fails.
      }
      results.push_back(std::move(r));
    }
    if (commit.ok()) {
      commit = storage_->Commit();
    }
    if (!commit.ok()) {
      storage_->Rollback();
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CommitObserver observer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.batches;
    stats_.items += batch.size();
    if (!commit.ok()) {
      ++stats_.failed_commits;
    }
    observer = observer_;
  }
  if (observer) {
    observer(batch.size(), seconds);
  }
  // What the callbacks post to the io threads goes out once per thread, after the last.
  PostBatch posts;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].done) {
      batch[i].done(commit.ok() ? std::move(results[i]) : Result<void>(commit.error()));
    }
  }
}

}  // namespace holdfast::server
