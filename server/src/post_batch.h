// PostBatch gathers the handlers that one thread posts to the io threads, and posts them as one
// handler per io_context when it closes, each context's in the order they were posted.
//
// The database thread opens one around the callbacks of a commit. Each send's callbacks post
// twice (the push to the recipient, the reply to the sender), so a commit of 500 sends used to
// post 1,000 handlers, each taking the io_context's lock and often waking its thread. Now it
// posts one per io thread.
//
// Handlers are grouped by io_context and posted through the first executor seen for it, so
// the executors must be the io_contexts' own (no strands): holdfastd runs one io_context per
// thread and its sessions use their executors directly. A batch opened inside another posts
// its handlers when it closes, before the outer batch's.
#ifndef HOLDFAST_SERVER_POST_BATCH_H_
#define HOLDFAST_SERVER_POST_BATCH_H_

#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <vector>

namespace holdfast::server {

class PostBatch {
 public:
  // Opens a batch on this thread; batches nest, and the innermost gathers.
  PostBatch();
  // Posts what was gathered.
  ~PostBatch();
  PostBatch(const PostBatch&) = delete;
  PostBatch& operator=(const PostBatch&) = delete;

  // Post runs `fn` on `ex`: gathered while a batch is open on this thread, posted at once
  // otherwise.
  static void Post(const boost::asio::any_io_executor& ex, std::function<void()> fn);

 private:
  struct Group {
    const void* context;  // the io_context: executors compare by it
    boost::asio::any_io_executor executor;
    std::vector<std::function<void()>> handlers;
  };
  std::vector<Group> groups_;  // few: one per io_context
  PostBatch* outer_;
};

}  // namespace holdfast::server

#endif  // HOLDFAST_SERVER_POST_BATCH_H_
