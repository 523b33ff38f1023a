// Database: holdfastd's storage work on one thread, committed in batches.
//
// Every item submitted while a batch is committing joins the next batch, so under load many
// envelopes share one transaction and one fsync (group commit), and each item's callback runs
// only after the batch that holds it has committed: a sender is acknowledged only once its
// envelopes are durable. Each item runs inside a savepoint, so one failing item does not
// undo the others in its batch.
#ifndef HOLDFAST_SERVER_DATABASE_H_
#define HOLDFAST_SERVER_DATABASE_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "holdfast/common/result.h"
#include "holdfast/server/storage.h"

namespace holdfast::server {

// DatabaseStats is what the metrics report about commits.
struct DatabaseStats {
  uint64_t batches = 0;
  uint64_t items = 0;
  uint64_t failed_commits = 0;
};

class Database {
 public:
  // Work runs on the database thread inside the batch's transaction. A failure rolls back
  // the item's own changes only.
  using Work = std::function<Result<void>(Storage&)>;
  // Done runs on the database thread after the batch committed (with the item's result) or
  // failed to commit (with that error). It must be quick: post anything slow elsewhere.
  using Done = std::function<void(Result<void>)>;
  // CommitObserver is told the size and duration of every batch (for metrics).
  using CommitObserver = std::function<void(size_t items, double seconds)>;

  // kDefaultMaxBatch and kDefaultMaxBatchBytes bound a batch: it takes at most 4096 items,
  // and never more declared bytes than 32 MiB, except that an item declaring more runs first
  // in a batch of its own (items declaring none still join a full one). Bytes are declared
  // by the work that writes envelopes (sends, notices). The item bound is what a backlog of
  // small envelopes meets: 4096 share one fsync and touch each queue's index pages once. The
  // byte bound keeps a flood of 256 KiB envelopes from making one transaction (and the WAL)
  // a gigabyte long.
  static constexpr size_t kDefaultMaxBatch = 4096;
  static constexpr size_t kDefaultMaxBatchBytes = size_t{32} << 20;

  explicit Database(std::unique_ptr<Storage> storage, size_t max_batch = kDefaultMaxBatch,
                    size_t max_batch_bytes = kDefaultMaxBatchBytes);
  // The destructor runs Stop.
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Submit queues `work`; `done` (optional) receives its result after the commit. After Stop
  // began, `done` gets kUnavailable at once. `bytes` is about how much the work writes (the
  // envelopes' sizes), for the batch's byte bound.
  void Submit(Work work, Done done, size_t bytes = 0);
  // SubmitOneWrite is Submit for work whose only write is its last statement: should that
  // statement fail, SQLite undoes it, and nothing of the item is left. It runs without a
  // savepoint of its own, which on a send was two of its five statements.
  void SubmitOneWrite(Work work, Done done, size_t bytes = 0);
  // Run submits `work` and waits for its commit. Not from the database thread.
  Result<void> Run(Work work);
  // Stop lets every item already submitted commit, then joins the thread. Idempotent.
  void Stop();

  void SetCommitObserver(CommitObserver observer);
  DatabaseStats Stats() const;
  // OnThread is true when called from the database thread.
  bool OnThread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  struct Item {
    Work work;
    Done done;
    bool savepoint = true;
    size_t bytes = 0;
  };
  void Enqueue(Item item);
  void Loop();
  void RunBatch(std::deque<Item>& batch);

  std::unique_ptr<Storage> storage_;
  const size_t max_batch_;
  const size_t max_batch_bytes_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;       // GUARDED_BY(mu_)
  bool stopping_ = false;        // GUARDED_BY(mu_)
  DatabaseStats stats_;          // GUARDED_BY(mu_)
  CommitObserver observer_;      // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace holdfast::server

#endif  // HOLDFAST_SERVER_DATABASE_H_
