// Loading reward plugins and calling them across the C ABI (see plugin.h, plugin_abi.h).
#include "rewards/plugin.h"

#include <dlfcn.h>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
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
// they point at belong to the Sample, which outlives the call.
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
  std::vector<Components>* out;
  std::vector<std::set<std::string>> names;  // emitted per sample
  std::string error;                         // the first invalid emit
};

int Emit(void* host, size_t sample_index, const char* name, double value, int applicable,
         const char* details) {
  auto* state = static_cast<SinkState*>(host);
  if (sample_index >= state->out->size() || name == nullptr ||
      !state->names[sample_index].insert(name).second) {
    if (state->error.empty()) {
      state->error = absl::StrCat("invalid emit (sample ", sample_index, ", name '",
                                  name == nullptr ? "<null>" : name, "')");
    }
    return 1;
  }
  (*state->out)[sample_index].push_back(Component{.name = name,
                                                  .value = value,
                                                  .applicable = applicable != 0,
                                                  .details = details ? details : ""});
  return 0;
}

class PluginReward : public RewardFunction {
 public:
  PluginReward(std::shared_ptr<Library> library, const dsarl_reward_plugin* table, void* instance,
               std::string path)
      : library_(std::move(library)), table_(table), instance_(instance), path_(std::move(path)) {}

  ~PluginReward() override {
    try {
      table_->destroy(instance_);
    } catch (...) {
      // Nothing to do: the plugin broke its contract while freeing; the process goes on.
    }
  }

  absl::StatusOr<std::vector<Components>> ScoreGroup(
      const proto::Prompt& task, absl::Span<const Sample> samples) const override {
    std::vector<std::pair<std::string, std::string>> reference(task.reference().begin(),
                                                               task.reference().end());
    std::sort(reference.begin(), reference.end());
    std::vector<dsarl_reward_kv> ref_view;
    for (const auto& [k, v] : reference) ref_view.push_back({Str(k), Str(v)});
    const dsarl_reward_task task_view{
        .prompt_id = task.id(),
        .category = Str(task.category()),
        .system = Str(task.system()),
        .user = Str(task.user()),
        .reference = ref_view.data(),
        .num_reference = ref_view.size(),
    };
    std::vector<SampleView> views(samples.size());
    std::vector<dsarl_reward_sample> sample_views(samples.size());
    for (size_t i = 0; i < samples.size(); ++i) {
      BuildSampleView(samples[i], &views[i], &sample_views[i]);
    }
    std::vector<Components> out(samples.size());
    SinkState state{.out = &out, .names = std::vector<std::set<std::string>>(samples.size())};
    const dsarl_reward_sink sink{.host = &state, .emit = Emit};
    char error[kErrorSize] = {0};
    int rc = 0;
    try {
      if (table_->flags & DSARL_REWARD_PLUGIN_THREAD_SAFE) {
        rc = table_->score(instance_, &task_view, sample_views.data(), samples.size(), &sink, error,
                           sizeof(error));
      } else {
        absl::MutexLock lock(&mu_);
        rc = table_->score(instance_, &task_view, sample_views.data(), samples.size(), &sink, error,
                           sizeof(error));
      }
    } catch (const std::exception& e) {
      return Fail(absl::StrCat("threw ", e.what()));
    } catch (...) {
      return Fail("threw an exception that is not a std::exception");
    }
    error[sizeof(error) - 1] = '\0';
    if (rc != 0) return Fail(absl::StrCat("score returned ", rc, ": ", error));
    if (!state.error.empty()) return Fail(state.error);
    return out;
  }

 private:
  absl::Status Fail(const std::string& why) const {
    return absl::InternalError(
        absl::StrCat("plugin ", table_->name ? table_->name : "?", " (", path_, "): ", why));
  }

  std::shared_ptr<Library> library_;
  const dsarl_reward_plugin* table_;
  void* instance_;
  std::string path_;
  mutable absl::Mutex mu_;  // serializes score unless the plugin is thread-safe
};

}  // namespace

absl::StatusOr<std::unique_ptr<RewardFunction>> LoadPluginReward(
    const std::string& path, const std::map<std::string, std::string>& params) {
  std::error_code ec;
  if (path.find('/') != std::string::npos && !std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat("reward plugin ", path, ": no such file"));
  }
  auto library = std::make_shared<Library>();
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
  std::vector<dsarl_reward_kv> kv;
  for (const auto& [k, v] : params) kv.push_back({Str(k), Str(v)});  // std::map: sorted
  void* instance = nullptr;
  char error[kErrorSize] = {0};
  int rc = 0;
  try {
    rc = table->create(kv.data(), kv.size(), &instance, error, sizeof(error));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("reward plugin ", path, ": create threw ", e.what()));
  } catch (...) {
    return absl::InvalidArgumentError(absl::StrCat("reward plugin ", path, ": create threw"));
  }
  error[sizeof(error) - 1] = '\0';
  if (rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat("reward plugin ", path, ": ", error));
  }
  return std::make_unique<PluginReward>(std::move(library), table, instance, path);
}

}  // namespace dsarl::rewards
