// Loading reward plugins and calling them across the C ABI (see plugin.h, plugin_abi.h).
//
// Ownership: every call into the plugin runs on its own thread with a deadline (base/timed_call.h)
// and owns, by shared_ptr, everything it touches: its frame (copies of what the plugin reads, the
// C views of them, the sink it emits into) and the instance, which holds the library. So a call
// abandoned at its deadline stays safe when it returns late, and the instance is destroyed (and
// the library closed) only after the last call on it has returned.
#include "rewards/plugin.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <filesystem>
#include <set>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/log.h"
#include "base/reply_limits.h"
#include "base/timed_call.h"
#include "rewards/plugin_abi.h"

namespace dsarl::rewards {
namespace {

constexpr size_t kErrorSize = 1024;

dsarl_reward_str Str(const std::string& s) { return {s.c_str(), s.size()}; }

// A dlopen handle, closed when the last instance using it is gone.
struct Library {
  void* handle = nullptr;
  ~Library() {
    if (handle != nullptr) dlclose(handle);
  }
};

// The C views of one sample. The vectors own the arrays the C structs point into; the strings
// they point at belong to the Sample, which lives in the same call frame.
struct SampleView {
  std::vector<std::vector<dsarl_reward_kv>> arguments;     // per tool call, over all messages
  std::vector<std::vector<dsarl_reward_tool_call>> calls;  // per message
  std::vector<dsarl_reward_message> messages;
};

void BuildSampleView(const Sample& s, SampleView* view, dsarl_reward_sample* out) {
  view->calls.resize(s.messages.size());
  int total_calls = 0;
  for (const Message& m : s.messages) total_calls += static_cast<int>(m.tool_calls.size());
  view->arguments.reserve(total_calls);  // no reallocation: calls point into these vectors
  for (size_t i = 0; i < s.messages.size(); ++i) {
    const Message& m = s.messages[i];
    for (const ToolCall& call : m.tool_calls) {
      std::vector<dsarl_reward_kv>& args = view->arguments.emplace_back();
      for (const auto& [k, v] : call.arguments) args.push_back({Str(k), Str(v)});
      view->calls[i].push_back({Str(call.name), args.data(), args.size()});
    }
    view->messages.push_back(dsarl_reward_message{
        .role = static_cast<int32_t>(m.role),
        .content = Str(m.content),
        .reasoning = Str(m.reasoning),
        .raw_text = Str(m.raw_text),
        .parse_error = Str(m.parse_error),
        .tool_calls = view->calls[i].data(),
        .num_tool_calls = view->calls[i].size(),
        .is_error = m.is_error ? 1 : 0,
        .num_tokens = m.num_tokens,
    });
  }
  static const std::string kEmpty;
  *out = dsarl_reward_sample{
      .messages = view->messages.data(),
      .num_messages = view->messages.size(),
      .final_answer = Str(s.final_answer),
      .num_generated_tokens = s.num_generated_tokens,
      .finish_reason = static_cast<int32_t>(s.finish_reason),
      .has_verdict = s.verdict.has_value() ? 1 : 0,
      .verdict_score = s.verdict.has_value() ? s.verdict->score : 0.0,
      .verdict_details = Str(s.verdict.has_value() ? s.verdict->details : kEmpty),
  };
}

// What emit writes into, reached through dsarl_reward_sink.host.
struct SinkState {
  std::vector<Components> out;
  std::vector<std::set<std::string>> names;  // emitted per sample
  std::string error;                         // the first invalid emit
  size_t bytes = 0;  // names, details and values emitted, against kMaxReplyBytes
};

int Emit(void* host, size_t sample_index, const char* name, double value, int applicable,
         const char* details) {
  auto* state = static_cast<SinkState*>(host);
  // Counted before anything is copied: a reply over the bound is refused, never kept.
  state->bytes += (name != nullptr ? std::strlen(name) : 0) +
                  (details != nullptr ? std::strlen(details) : 0) + sizeof(value);
  if (state->bytes > kMaxReplyBytes) return 1;
  if (sample_index >= state->out.size() || name == nullptr ||
      !state->names[sample_index].insert(name).second) {
    if (state->error.empty()) {
      state->error = absl::StrCat("invalid emit (sample ", sample_index, ", name '",
                                  name == nullptr ? "<null>" : name, "')");
    }
    return 1;
  }
  state->out[sample_index].push_back(Component{.name = name,
                                               .value = value,
                                               .applicable = applicable != 0,
                                               .details = details ? details : ""});
  return 0;
}

// One score call's own storage: copies of the task and samples, their C views, and the sink.
struct ScoreFrame {
  std::string category, system, user;
  std::vector<std::pair<std::string, std::string>> reference;  // sorted by key
  std::vector<dsarl_reward_kv> ref_view;
  dsarl_reward_task task_view;
  std::vector<Sample> samples;
  std::vector<SampleView> views;
  std::vector<dsarl_reward_sample> sample_views;
  SinkState state;
  dsarl_reward_sink sink;
  char error[kErrorSize] = {0};
  int rc = 0;
  std::string threw;  // what escaped the plugin, "" when nothing did
  // Guarded by the instance's mu: set when the call returns / when its caller gives up on it.
  bool returned = false;
  bool abandoned = false;
};

std::shared_ptr<ScoreFrame> MakeFrame(const proto::Prompt& task, absl::Span<const Sample> samples) {
  auto f = std::make_shared<ScoreFrame>();
  f->category = task.category();
  f->system = task.system();
  f->user = task.user();
  f->reference.assign(task.reference().begin(), task.reference().end());
  std::sort(f->reference.begin(), f->reference.end());
  for (const auto& [k, v] : f->reference) f->ref_view.push_back({Str(k), Str(v)});
  f->task_view = dsarl_reward_task{
      .prompt_id = task.id(),
      .category = Str(f->category),
      .system = Str(f->system),
      .user = Str(f->user),
      .reference = f->ref_view.data(),
      .num_reference = f->ref_view.size(),
  };
  f->samples.assign(samples.begin(), samples.end());
  f->views.resize(samples.size());
  f->sample_views.resize(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    BuildSampleView(f->samples[i], &f->views[i], &f->sample_views[i]);
  }
  f->state.out.resize(samples.size());
  f->state.names.resize(samples.size());
  f->sink = dsarl_reward_sink{.host = &f->state, .emit = Emit};
  return f;
}

// One plugin instance, shared by its RewardFunction and by every call in flight on it.
struct Instance {
  std::shared_ptr<Library> library;
  const dsarl_reward_plugin* table = nullptr;
  void* instance = nullptr;
  std::string label;  // "reward plugin NAME (PATH)", for messages
  absl::Duration timeout;

  absl::Mutex mu;
  bool busy ABSL_GUARDED_BY(mu) = false;  // a call of a plugin that is not thread-safe is running
  int overdue ABSL_GUARDED_BY(mu) = 0;    // calls past their deadline that have not returned

  bool ThreadSafe() const { return (table->flags & DSARL_REWARD_PLUGIN_THREAD_SAFE) != 0; }
  bool MayEnter() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return !busy || overdue > 0; }

  // Waits (for a plugin that is not thread-safe) until a call may start. Unavailable while an
  // earlier call is past its deadline: a hung plugin fails calls at once instead of piling up
  // threads behind it, and serves again when that call returns.
  absl::Status Enter() {
    if (ThreadSafe()) {
      mu.Lock();
    } else {
      mu.LockWhen(absl::Condition(this, &Instance::MayEnter));
    }
    const bool refused = overdue > 0;
    if (!refused && !ThreadSafe()) busy = true;
    mu.Unlock();
    if (!refused) return absl::OkStatus();
    return absl::UnavailableError(
        absl::StrCat(label, ": an earlier score call is still running past its deadline of ",
                     absl::FormatDuration(timeout), "; calls are refused until it returns"));
  }
  // On the call's thread, when the plugin returns (in time or late).
  void Returned(ScoreFrame* f) {
    absl::MutexLock lock(&mu);
    f->returned = true;
    if (!ThreadSafe()) busy = false;
    if (f->abandoned) --overdue;
  }
  // On the caller's thread, when it gave up on `f` at the deadline.
  void Abandon(ScoreFrame* f) {
    absl::MutexLock lock(&mu);
    if (f->returned) return;
    f->abandoned = true;
    ++overdue;
  }

  ~Instance() {
    // The library stays loaded until destroy has returned, even when it returns late.
    std::shared_ptr<Library> lib = library;
    const dsarl_reward_plugin* t = table;
    void* i = instance;
    const absl::Status s = TimedCall(absl::StrCat(label, ": destroy"), timeout, [lib, t, i] {
      t->destroy(i);
      return absl::OkStatus();
    });
    if (!s.ok()) DSARL_LOG_WARN("{}", s.ToString());
  }
};

// The plugin's score on `f`, on the call's thread. Exceptions are caught here (not by TimedCall)
// so that Returned runs whatever the plugin does.
void RunScore(Instance& inst, ScoreFrame* f) {
  try {
    f->rc = inst.table->score(inst.instance, &f->task_view, f->sample_views.data(),
                              f->sample_views.size(), &f->sink, f->error, sizeof(f->error));
  } catch (const std::exception& e) {
    f->threw = absl::StrCat("threw ", e.what());
  } catch (...) {
    f->threw = "threw an exception that is not a std::exception";
  }
  f->error[sizeof(f->error) - 1] = '\0';
  inst.Returned(f);
}

class PluginReward : public RewardFunction {
 public:
  explicit PluginReward(std::shared_ptr<Instance> instance) : instance_(std::move(instance)) {}

  absl::StatusOr<std::vector<Components>> ScoreGroup(
      const proto::Prompt& task, absl::Span<const Sample> samples) const override {
    std::shared_ptr<Instance> inst = instance_;
    if (absl::Status s = inst->Enter(); !s.ok()) return s;
    std::shared_ptr<ScoreFrame> f = MakeFrame(task, samples);
    const absl::Status call =
        TimedCall(absl::StrCat(inst->label, ": score"), inst->timeout, [inst, f] {
          RunScore(*inst, f.get());
          return absl::OkStatus();
        });
    if (absl::IsDeadlineExceeded(call)) inst->Abandon(f.get());
    if (!call.ok()) return call;
    if (f->state.bytes > kMaxReplyBytes) {
      return absl::ResourceExhaustedError(
          ReplyTooLargeMessage(absl::StrCat(inst->label, ": score"), f->state.bytes));
    }
    if (!f->threw.empty()) return Fail(f->threw);
    if (f->rc != 0) return Fail(absl::StrCat("score returned ", f->rc, ": ", f->error));
    if (!f->state.error.empty()) return Fail(f->state.error);
    return std::move(f->state.out);
  }

 private:
  absl::Status Fail(const std::string& why) const {
    return absl::InternalError(absl::StrCat(instance_->label, ": ", why));
  }

  std::shared_ptr<Instance> instance_;
};

// dlopens `path` and returns its checked table. Errors as LoadPluginReward's.
absl::StatusOr<const dsarl_reward_plugin*> OpenTable(const std::string& path, Library* library) {
  library->handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library->handle == nullptr) {
    const char* why = dlerror();
    return absl::FailedPreconditionError(
        absl::StrCat("reward plugin ", path, ": cannot load: ", why ? why : "unknown error"));
  }
  auto get = reinterpret_cast<dsarl_reward_plugin_get_fn>(
      dlsym(library->handle, DSARL_REWARD_PLUGIN_SYMBOL));
  if (get == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "reward plugin ", path, ": no symbol ", DSARL_REWARD_PLUGIN_SYMBOL, " (is it a plugin?)"));
  }
  const dsarl_reward_plugin* table = nullptr;
  try {
    table = get(DSARL_REWARD_ABI_VERSION);
  } catch (...) {
    table = nullptr;
  }
  if (table == nullptr || table->abi_version != DSARL_REWARD_ABI_VERSION) {
    return absl::FailedPreconditionError(absl::StrCat(
        "reward plugin ", path, ": built for reward ABI version ",
        table == nullptr ? std::string("(none; it declined)") : absl::StrCat(table->abi_version),
        ", this dsarl speaks version ", DSARL_REWARD_ABI_VERSION,
        "; rebuild it against "
        "rewards/plugin_abi.h"));
  }
  if (table->create == nullptr || table->destroy == nullptr || table->score == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("reward plugin ", path, ": its table lacks create, destroy or score"));
  }
  return table;
}

// What create reads and writes, owned by the call (it may outlive a caller that gave up on it).
struct CreateFrame {
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<dsarl_reward_kv> kv;
  void* instance = nullptr;
  char error[kErrorSize] = {0};
  int rc = 0;
};

// Runs the plugin's create with a deadline. A create that returns after its deadline has its
// instance destroyed on its own thread. Errors: InvalidArgument with the plugin's message (or
// what it threw); DeadlineExceeded naming `label`.
absl::StatusOr<void*> CreateInstance(std::shared_ptr<Library> library,
                                     const dsarl_reward_plugin* table, const std::string& label,
                                     const std::map<std::string, std::string>& params,
                                     absl::Duration timeout) {
  auto f = std::make_shared<CreateFrame>();
  f->params.assign(params.begin(), params.end());  // std::map: sorted
  for (const auto& [k, v] : f->params) f->kv.push_back({Str(k), Str(v)});
  const absl::Status call = TimedCall(
      absl::StrCat(label, ": create"), timeout,
      [f, table] {
        f->rc = table->create(f->kv.data(), f->kv.size(), &f->instance, f->error, sizeof(f->error));
        return absl::OkStatus();
      },
      [f, table, library] {
        (void)library;  // held so that the library stays loaded until destroy returns
        if (f->rc == 0) table->destroy(f->instance);
      });
  if (absl::IsInternal(call)) return absl::InvalidArgumentError(call.message());  // it threw
  if (!call.ok()) return call;
  f->error[sizeof(f->error) - 1] = '\0';
  if (f->rc != 0) return absl::InvalidArgumentError(absl::StrCat(label, ": ", f->error));
  return f->instance;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RewardFunction>> LoadPluginReward(
    const std::string& path, const std::map<std::string, std::string>& params,
    absl::Duration call_timeout) {
  if (call_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("reward plugin ", path, ": the call timeout must be positive"));
  }
  std::error_code ec;
  if (path.find('/') != std::string::npos && !std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat("reward plugin ", path, ": no such file"));
  }
  auto library = std::make_shared<Library>();
  absl::StatusOr<const dsarl_reward_plugin*> table = OpenTable(path, library.get());
  if (!table.ok()) return table.status();
  const std::string label =
      absl::StrCat("reward plugin ", (*table)->name ? (*table)->name : "?", " (", path, ")");
  absl::StatusOr<void*> created = CreateInstance(library, *table, label, params, call_timeout);
  if (!created.ok()) return created.status();
  auto instance = std::make_shared<Instance>();
  instance->library = std::move(library);
  instance->table = *table;
  instance->instance = *created;
  instance->label = label;
  instance->timeout = call_timeout;
  return std::make_unique<PluginReward>(std::move(instance));
}

}  // namespace dsarl::rewards
