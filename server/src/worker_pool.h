// WorkerPool runs slow jobs (Argon2id, webhook calls) on threads of its own, so that they
// never hold up an I/O thread or the database thread.
#ifndef HOLDFAST_SERVER_SRC_WORKER_POOL_H_
#define HOLDFAST_SERVER_SRC_WORKER_POOL_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "holdfast/common/thread_name.h"

namespace holdfast::server {

class WorkerPool {
 public:
  // `name` names the threads (NameThisThread), as top -H shows them.
  WorkerPool(size_t threads, const std::string& name) {
    for (size_t i = 0; i < (threads == 0 ? 1 : threads); ++i) {
      threads_.emplace_back([this, name] {
        NameThisThread(name);
        Loop();
      });
    }
  }
  // The destructor runs Stop.
  ~WorkerPool() { Stop(); }

  // Stop runs the jobs already posted (and those they post), then joins the threads. A job
  // posted later never runs: it is destroyed with the pool. Idempotent; not from a job.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) {
      if (t.joinable()) {
        t.join();
      }
    }
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Post(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

 private:
  void Loop() {
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
        if (jobs_.empty()) {
          return;
        }
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // GUARDED_BY(mu_)
  bool stop_ = false;                       // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

}  // namespace holdfast::server

#endif  // HOLDFAST_SERVER_SRC_WORKER_POOL_H_
