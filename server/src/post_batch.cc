#include "post_batch.h"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>

#include <utility>

namespace holdfast::server {

namespace {
thread_local PostBatch* current_batch = nullptr;
}  // namespace

PostBatch::PostBatch() : outer_(current_batch) { current_batch = this; }

PostBatch::~PostBatch() {
  current_batch = outer_;
  for (Group& g : groups_) {
    boost::asio::post(g.executor, [handlers = std::move(g.handlers)] {
      for (const auto& h : handlers) {
        h();
      }
    });
  }
}

void PostBatch::Post(const boost::asio::any_io_executor& ex, std::function<void()> fn) {
  PostBatch* batch = current_batch;
  if (batch == nullptr) {
    boost::asio::post(ex, std::move(fn));
    return;
  }
  const void* context =
      &boost::asio::query(ex, boost::asio::execution::context);
  for (Group& g : batch->groups_) {
    if (g.context == context) {
      g.handlers.push_back(std::move(fn));
      return;
    }
  }
  batch->groups_.push_back(Group{context, ex, {}});
  batch->groups_.back().handlers.push_back(std::move(fn));
}

}  // namespace holdfast::server
