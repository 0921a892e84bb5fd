// TimedCall (timed_call.h).
#include "base/timed_call.h"

#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/log.h"

namespace dsarl {
namespace {

struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  bool abandoned = false;
  absl::Status status;
};

}  // namespace

absl::Status TimedCall(absl::string_view what, absl::Duration timeout,
                       std::function<absl::Status()> call, std::function<void()> on_late_return) {
  auto shared = std::make_shared<Shared>();
  const std::string name(what);
  std::thread worker([shared, name, call = std::move(call), on_late = std::move(on_late_return)] {
    absl::Status status;
    try {
      status = call();
    } catch (const std::exception& e) {
      status = absl::InternalError(absl::StrCat(name, " threw an exception: ", e.what()));
    } catch (...) {
      status = absl::InternalError(absl::StrCat(name, " threw a non-standard exception"));
    }
    bool late = false;
    {
      std::lock_guard<std::mutex> lock(shared->mu);
      shared->done = true;
      shared->status = status;
      late = shared->abandoned;
    }
    shared->cv.notify_all();
    if (late) {
      DSARL_LOG_WARN("{} returned after its deadline; cleaning up", name);
      if (on_late) on_late();
    }
  });
  std::unique_lock<std::mutex> lock(shared->mu);
  const bool done =
      shared->cv.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] { return shared->done; });
  if (!done) {
    shared->abandoned = true;
    lock.unlock();
    worker.detach();
    return absl::DeadlineExceededError(
        absl::StrCat(name, " did not return within ", absl::FormatDuration(timeout)));
  }
  lock.unlock();
  worker.join();
  return shared->status;
}

}  // namespace dsarl
