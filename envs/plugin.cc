// Plugin environments (plugin.h): loading, the host callbacks that collect and check what a plugin
// reports, and calls with deadlines.
//
// Ownership: a call in flight owns (by shared_ptr) everything it touches: its frame (inputs and the
// collector its callbacks write), the episode handle and the env handle. So a call that is
// abandoned at its deadline stays safe when it finally returns, and the plugin's close/destroy
// run only after the last call on that episode/env has returned.
#include "envs/plugin.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/reply_limits.h"
#include "base/status_macros.h"
#include "base/timed_call.h"
#include "base/utf8.h"

namespace dsarl::envs {
namespace {

enum class Phase { kCreate, kReset, kStep, kVerify };

// An error message is for a person: a plugin's longer one is cut, not refused.
constexpr size_t kMaxErrorBytes = 4096;

// What one call reported through the host callbacks.
struct Collector {
  explicit Collector(Phase p) : phase(p) {}
  Phase phase;
  bool error_set = false;
  std::string error;
  std::string garbage;  // the first protocol violation, if any
  int32_t top_level = -1;
  Task task;
  std::vector<ToolResult> results;
  bool done = false;
  bool verdict_set = false;
  Verdict verdict;
  size_t bytes = 0;  // text reported so far (strings the callbacks received), capped per call

  void Bad(std::string why) {
    if (garbage.empty()) garbage = std::move(why);
  }
  bool In(Phase p, const char* callback) {
    if (phase == p) return true;
    Bad(absl::StrCat(callback, " was called outside its call"));
    return false;
  }
  bool Text(const char* s, const char* what, std::string* out) {
    if (s == nullptr) {
      Bad(absl::StrCat(what, " is NULL"));
      return false;
    }
    // Counted before it is copied: an output over the bound is refused, never kept.
    const size_t n = std::strlen(s);
    bytes += n;
    if (bytes > kMaxReplyBytes) return false;
    std::string v(s, n);
    if (!IsValidUtf8(v)) {
      Bad(absl::StrCat(what, " is not valid UTF-8"));
      return false;
    }
    *out = std::move(v);
    return true;
  }
};

Collector& C(void* ctx) { return *static_cast<Collector*>(ctx); }

void SetError(void* ctx, const char* message) {
  C(ctx).error_set = true;
  if (message == nullptr) {
    C(ctx).error = "(no message)";
    return;
  }
  const size_t n = strnlen(message, kMaxErrorBytes + 1);
  C(ctx).error.assign(message, std::min(n, kMaxErrorBytes));
  if (n > kMaxErrorBytes) C(ctx).error += "... (cut)";
}
void SetTopLevel(void* ctx, int32_t level) {
  if (C(ctx).In(Phase::kCreate, "set_top_level")) C(ctx).top_level = level;
}
void SetSystem(void* ctx, const char* text) {
  if (C(ctx).In(Phase::kReset, "set_system")) C(ctx).Text(text, "system text", &C(ctx).task.system);
}
void SetUser(void* ctx, const char* text) {
  if (C(ctx).In(Phase::kReset, "set_user")) C(ctx).Text(text, "user message", &C(ctx).task.user);
}
void AddTool(void* ctx, const char* name, const char* description) {
  Collector& c = C(ctx);
  if (!c.In(Phase::kReset, "add_tool")) return;
  proto::ToolSpec tool;
  std::string n, d;
  if (!c.Text(name, "tool name", &n) || !c.Text(description, "tool description", &d)) return;
  if (n.empty()) return c.Bad("a tool has an empty name");
  tool.set_name(n);
  tool.set_description(d);
  c.task.tools.push_back(std::move(tool));
}
void AddToolParameter(void* ctx, const char* name, const char* type, const char* description,
                      int32_t required) {
  Collector& c = C(ctx);
  if (!c.In(Phase::kReset, "add_tool_parameter")) return;
  if (c.task.tools.empty()) return c.Bad("add_tool_parameter before any add_tool");
  std::string n, t, d;
  if (!c.Text(name, "parameter name", &n) || !c.Text(type, "parameter type", &t) ||
      !c.Text(description, "parameter description", &d)) {
    return;
  }
  if (t != "string" && t != "integer" && t != "number") {
    return c.Bad(absl::StrCat("parameter ", n, " has type '", t, "'"));
  }
  proto::ToolParameter* p = c.task.tools.back().add_parameters();
  p->set_name(n);
  p->set_type(t);
  p->set_description(d);
  p->set_required(required != 0);
}
void AddReference(void* ctx, const char* key, const char* value) {
  Collector& c = C(ctx);
  std::string k, v;
  if (c.In(Phase::kReset, "add_reference") && c.Text(key, "reference key", &k) &&
      c.Text(value, "reference value", &v)) {
    c.task.reference[k] = v;
  }
}
void AddSolutionRound(void* ctx) {
  if (C(ctx).In(Phase::kReset, "add_solution_round")) C(ctx).task.solution.rounds.emplace_back();
}
void AddSolutionCall(void* ctx, const char* tool_name) {
  Collector& c = C(ctx);
  if (!c.In(Phase::kReset, "add_solution_call")) return;
  if (c.task.solution.rounds.empty()) return c.Bad("add_solution_call before add_solution_round");
  ToolCall call;
  if (c.Text(tool_name, "solution tool name", &call.name)) {
    c.task.solution.rounds.back().push_back(std::move(call));
  }
}
void AddSolutionArgument(void* ctx, const char* key, const char* value) {
  Collector& c = C(ctx);
  if (!c.In(Phase::kReset, "add_solution_argument")) return;
  if (c.task.solution.rounds.empty() || c.task.solution.rounds.back().empty()) {
    return c.Bad("add_solution_argument before add_solution_call");
  }
  std::string k, v;
  if (c.Text(key, "solution argument key", &k) && c.Text(value, "solution argument", &v)) {
    c.task.solution.rounds.back().back().arguments.emplace_back(k, v);
  }
}
void SetSolutionAnswer(void* ctx, const char* answer) {
  if (C(ctx).In(Phase::kReset, "set_solution_answer")) {
    C(ctx).Text(answer, "solution answer", &C(ctx).task.solution.final_answer);
  }
}
void AddResult(void* ctx, const char* output, int32_t is_error) {
  Collector& c = C(ctx);
  ToolResult r;
  if (c.In(Phase::kStep, "add_result") && c.Text(output, "tool output", &r.output)) {
    r.is_error = is_error != 0;
    c.results.push_back(std::move(r));
  }
}
void SetDone(void* ctx) {
  if (C(ctx).In(Phase::kStep, "set_done")) C(ctx).done = true;
}
void SetVerdict(void* ctx, double score, const char* details) {
  Collector& c = C(ctx);
  if (!c.In(Phase::kVerify, "set_verdict")) return;
  if (!std::isfinite(score) || score < 0 || score > 1) {
    return c.Bad(absl::StrCat("score ", score, " is not in [0, 1]"));
  }
  c.verdict_set = true;
  c.verdict.score = score;
  c.Text(details, "verdict details", &c.verdict.details);
}

// One call's own storage: the collector, the host table pointing at it, and copies of the inputs.
struct CallFrame {
  explicit CallFrame(Phase p) : out(p) {
    host = dsarl_env_host{&out,
                          SetError,
                          SetTopLevel,
                          SetSystem,
                          SetUser,
                          AddTool,
                          AddToolParameter,
                          AddReference,
                          AddSolutionRound,
                          AddSolutionCall,
                          AddSolutionArgument,
                          SetSolutionAnswer,
                          AddResult,
                          SetDone,
                          SetVerdict};
  }
  Collector out;
  dsarl_env_host host;
  std::string text;                       // category or final answer
  std::vector<std::string> keys, values;  // create: params
  std::vector<const char*> key_ptrs, value_ptrs;
  std::vector<std::vector<std::string>> arg_keys, arg_values;  // step: per call
  std::vector<std::vector<const char*>> arg_key_ptrs, arg_value_ptrs;
  std::vector<std::string> names;
  std::vector<dsarl_env_tool_call> calls;
  void* handle = nullptr;  // create / reset result
  int32_t rc = 0;          // step / verify result
};

// The plugin's env; destroyed when the last user (environment or call in flight) lets go.
struct EnvHandle {
  std::shared_ptr<const PluginLibrary> lib;
  void* env = nullptr;
  absl::Duration timeout;
  std::string label;  // "plugin NAME (PATH) category C env ID", for messages
  ~EnvHandle() {
    if (env == nullptr) return;
    std::shared_ptr<const PluginLibrary> l = lib;
    void* e = env;
    absl::Status s = TimedCall(absl::StrCat(label, ": destroy"), timeout, [l, e] {
      l->table().destroy(e);
      return absl::OkStatus();
    });
    if (!s.ok()) DSARL_LOG_WARN("{}", s.ToString());
  }
};

// The plugin's episode; closed when the last user (state or call in flight) lets go.
struct EpisodeHandle {
  std::shared_ptr<EnvHandle> env;
  void* episode = nullptr;
  std::string broken;  // why the episode cannot continue ("" while it can)
  ~EpisodeHandle() {
    if (episode == nullptr) return;
    std::shared_ptr<EnvHandle> e = env;
    void* ep = episode;
    absl::Status s = TimedCall(absl::StrCat(env->label, ": close"), env->timeout, [e, ep] {
      e->lib->table().close(e->env, ep);
      return absl::OkStatus();
    });
    if (!s.ok()) DSARL_LOG_WARN("{}", s.ToString());
  }
};

class PluginEpisodeState : public EpisodeState {
 public:
  PluginEpisodeState(const void* owner, std::shared_ptr<EpisodeHandle> h)
      : owner(owner), handle(std::move(h)) {}
  const void* owner;
  std::shared_ptr<EpisodeHandle> handle;  // null after Close
};

// The status of a finished call: the timeout/exception status, or an output over the bound on one
// reply (the bound remote servers have), or the plugin's own error, or the first garbage it
// reported.
absl::Status Outcome(const std::string& what, const absl::Status& call, const Collector& out,
                     bool failed) {
  if (!call.ok()) return call;
  if (out.bytes > kMaxReplyBytes) {
    return absl::ResourceExhaustedError(ReplyTooLargeMessage(what, out.bytes));
  }
  if (failed) {
    return absl::UnavailableError(absl::StrCat(
        what, " failed: ", out.error_set ? out.error : "(the plugin reported no error message)"));
  }
  if (!out.garbage.empty()) {
    return absl::DataLossError(absl::StrCat(what, " returned garbage: ", out.garbage));
  }
  return absl::OkStatus();
}

class PluginEnvironment : public Environment {
 public:
  PluginEnvironment(proto::EnvSpec spec, std::shared_ptr<EnvHandle> env)
      : spec_(std::move(spec)), env_(std::move(env)) {}

  const proto::EnvSpec& spec() const override { return spec_; }

  absl::StatusOr<Episode> Reset(uint64_t seed, int level) const override {
    RETURN_IF_ERROR(CheckLevel(spec_, level));
    auto frame = std::make_shared<CallFrame>(Phase::kReset);
    std::shared_ptr<EnvHandle> env = env_;
    const std::string what = absl::StrCat(env->label, ": reset");
    absl::Status call = TimedCall(
        what, env->timeout,
        [frame, env, seed, level] {
          frame->handle = env->lib->table().reset(env->env, seed, level, &frame->host);
          return absl::OkStatus();
        },
        [frame, env] {
          if (frame->handle != nullptr) env->lib->table().close(env->env, frame->handle);
        });
    if (!call.ok()) return call;
    // From here the episode (if any) is closed by its handle, whatever happens.
    auto handle = std::make_shared<EpisodeHandle>();
    handle->env = env;
    handle->episode = frame->handle;
    RETURN_IF_ERROR(Outcome(what, call, frame->out, frame->handle == nullptr));
    Task& task = frame->out.task;
    if (task.user.empty()) {
      return absl::DataLossError(absl::StrCat(what, " returned garbage: no user message"));
    }
    Episode e;
    e.task = std::move(task);
    e.state = std::make_unique<PluginEpisodeState>(this, std::move(handle));
    return e;
  }

  absl::StatusOr<StepResult> Step(EpisodeState* state,
                                  absl::Span<const ToolCall> calls) const override {
    ASSIGN_OR_RETURN(std::shared_ptr<EpisodeHandle> h, Handle(state, "Step"));
    auto frame = std::make_shared<CallFrame>(Phase::kStep);
    for (const ToolCall& call : calls) {
      frame->names.push_back(call.name);
      frame->arg_keys.emplace_back();
      frame->arg_values.emplace_back();
      for (const auto& [k, v] : call.arguments) {
        frame->arg_keys.back().push_back(k);
        frame->arg_values.back().push_back(v);
      }
    }
    for (size_t i = 0; i < calls.size(); ++i) {
      frame->arg_key_ptrs.emplace_back();
      frame->arg_value_ptrs.emplace_back();
      for (size_t j = 0; j < frame->arg_keys[i].size(); ++j) {
        frame->arg_key_ptrs[i].push_back(frame->arg_keys[i][j].c_str());
        frame->arg_value_ptrs[i].push_back(frame->arg_values[i][j].c_str());
      }
      frame->calls.push_back(dsarl_env_tool_call{
          frame->names[i].c_str(), static_cast<uint32_t>(frame->arg_keys[i].size()),
          frame->arg_key_ptrs[i].data(), frame->arg_value_ptrs[i].data()});
    }
    const std::string what = absl::StrCat(env_->label, ": step");
    absl::Status call = TimedCall(what, env_->timeout, [frame, h] {
      frame->rc =
          h->env->lib->table().step(h->env->env, h->episode, frame->calls.data(),
                                    static_cast<uint32_t>(frame->calls.size()), &frame->host);
      return absl::OkStatus();
    });
    absl::Status s = Outcome(what, call, frame->out, frame->rc != 0);
    if (s.ok() && frame->out.results.size() != calls.size()) {
      s = absl::DataLossError(absl::StrCat(what, " returned garbage: ", frame->out.results.size(),
                                           " results for ", calls.size(), " calls"));
    }
    if (!s.ok()) {
      h->broken = s.ToString();
      return s;
    }
    return StepResult{std::move(frame->out.results), frame->out.done};
  }

  absl::StatusOr<Verdict> Verify(const EpisodeState& state,
                                 absl::string_view final_answer) const override {
    ASSIGN_OR_RETURN(std::shared_ptr<EpisodeHandle> h,
                     Handle(const_cast<EpisodeState*>(&state), "Verify"));
    auto frame = std::make_shared<CallFrame>(Phase::kVerify);
    frame->text = std::string(final_answer);
    const std::string what = absl::StrCat(env_->label, ": verify");
    absl::Status call = TimedCall(what, env_->timeout, [frame, h] {
      frame->rc =
          h->env->lib->table().verify(h->env->env, h->episode, frame->text.c_str(), &frame->host);
      return absl::OkStatus();
    });
    absl::Status s = Outcome(what, call, frame->out, frame->rc != 0);
    if (s.ok() && !frame->out.verdict_set) {
      s = absl::DataLossError(absl::StrCat(what, " returned garbage: no verdict"));
    }
    if (!s.ok()) {
      h->broken = s.ToString();
      return s;
    }
    return frame->out.verdict;
  }

  void Close(EpisodeState* state) const override {
    auto* s = dynamic_cast<PluginEpisodeState*>(state);
    if (s != nullptr && s->owner == this) s->handle.reset();
  }

 private:
  absl::StatusOr<std::shared_ptr<EpisodeHandle>> Handle(EpisodeState* state,
                                                        const char* method) const {
    auto* s = dynamic_cast<PluginEpisodeState*>(state);
    if (s == nullptr || s->owner != this) {
      return absl::FailedPreconditionError(
          absl::StrCat(method, ": the episode state is not one of this environment"));
    }
    if (s->handle == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(method, ": the episode is closed"));
    }
    if (!s->handle->broken.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(method, ": the episode failed earlier: ", s->handle->broken));
    }
    return s->handle;
  }

  proto::EnvSpec spec_;
  std::shared_ptr<EnvHandle> env_;
};

// Creates the plugin env of `spec`; returns its handle and the ladder top it reports.
absl::StatusOr<std::pair<std::shared_ptr<EnvHandle>, int>> CreateEnv(
    std::shared_ptr<const PluginLibrary> lib, const proto::EnvSpec& spec, absl::Duration timeout) {
  auto frame = std::make_shared<CallFrame>(Phase::kCreate);
  frame->text = spec.category();
  for (const auto& [k, v] : spec.params()) {  // a protobuf map: sort for a stable order
    frame->keys.push_back(k);
  }
  std::sort(frame->keys.begin(), frame->keys.end());
  for (const std::string& k : frame->keys) frame->values.push_back(spec.params().at(k));
  for (size_t i = 0; i < frame->keys.size(); ++i) {
    frame->key_ptrs.push_back(frame->keys[i].c_str());
    frame->value_ptrs.push_back(frame->values[i].c_str());
  }
  auto env = std::make_shared<EnvHandle>();
  env->lib = lib;
  env->timeout = timeout;
  env->label = absl::StrCat("plugin ", lib->name(), " (", lib->path(), ") category ",
                            spec.category(), " env ", spec.id());
  const uint64_t seed = spec.seed();
  const std::string what = absl::StrCat(env->label, ": create");
  absl::Status call = TimedCall(
      what, timeout,
      [frame, lib, seed] {
        frame->handle = lib->table().create(
            frame->text.c_str(), seed, static_cast<uint32_t>(frame->keys.size()),
            frame->key_ptrs.data(), frame->value_ptrs.data(), &frame->host);
        return absl::OkStatus();
      },
      [frame, lib] {
        if (frame->handle != nullptr) lib->table().destroy(frame->handle);
      });
  if (!call.ok()) return call;
  env->env = frame->handle;  // destroyed with `env` from here on
  RETURN_IF_ERROR(Outcome(what, call, frame->out, frame->handle == nullptr));
  if (frame->out.top_level < 0) {
    return absl::DataLossError(absl::StrCat(what, " returned garbage: no set_top_level"));
  }
  return std::make_pair(env, static_cast<int>(frame->out.top_level));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const PluginLibrary>> PluginLibrary::Load(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("plugin ", path, ": no such file"));
  }
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("plugin ", path, ": ", dlerror()));
  }
  auto entry = reinterpret_cast<dsarl_env_plugin_entry_fn>(dlsym(handle, DSARL_ENV_PLUGIN_ENTRY));
  if (entry == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin ", path, ": no symbol ", DSARL_ENV_PLUGIN_ENTRY,
                     " (built for another ABI version, or not a dsarl environment plugin)"));
  }
  const dsarl_env_plugin* table = nullptr;
  try {
    table = entry();
  } catch (...) {
    return absl::InternalError(absl::StrCat("plugin ", path, ": its entry function threw"));
  }
  if (table == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("plugin ", path, ": no plugin table"));
  }
  if (table->abi_version != DSARL_ENV_ABI_VERSION) {
    return absl::FailedPreconditionError(absl::StrCat("plugin ", path, ": ABI version ",
                                                      table->abi_version, ", this dsarl speaks ",
                                                      DSARL_ENV_ABI_VERSION));
  }
  if (table->name == nullptr || table->categories == nullptr || table->categories[0] == nullptr ||
      !table->create || !table->destroy || !table->reset || !table->step || !table->verify ||
      !table->close) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin ", path,
                     ": incomplete table (name, categories and all six functions are required)"));
  }
  auto lib = std::shared_ptr<PluginLibrary>(new PluginLibrary());
  lib->path_ = path;
  lib->name_ = table->name;
  lib->version_ = table->version != nullptr ? table->version : "";
  for (const char* const* c = table->categories; *c != nullptr; ++c) lib->categories_.push_back(*c);
  lib->table_ = table;
  DSARL_LOG_INFO("loaded environment plugin {} {} from {} ({} categories)", lib->name_,
                 lib->version_, path, lib->categories_.size());
  return std::shared_ptr<const PluginLibrary>(std::move(lib));
}

absl::StatusOr<std::unique_ptr<Environment>> MakePluginEnvironment(
    std::shared_ptr<const PluginLibrary> library, const proto::EnvSpec& spec,
    absl::Duration call_timeout) {
  if (std::find(library->categories().begin(), library->categories().end(), spec.category()) ==
      library->categories().end()) {
    return absl::NotFoundError(
        absl::StrCat("plugin ", library->name(), " does not serve category ", spec.category()));
  }
  ASSIGN_OR_RETURN(auto created, CreateEnv(library, spec, call_timeout));
  if (created.second < spec.difficulty()) {
    return absl::FailedPreconditionError(absl::StrCat(created.first->label, ": its ladder tops at ",
                                                      created.second, ", the spec needs ",
                                                      spec.difficulty()));
  }
  return std::unique_ptr<Environment>(new PluginEnvironment(spec, std::move(created.first)));
}

absl::StatusOr<std::vector<Category>> PluginCategories(std::shared_ptr<const PluginLibrary> library,
                                                       absl::Duration call_timeout) {
  std::vector<Category> out;
  for (const std::string& name : library->categories()) {
    proto::EnvSpec probe;
    probe.set_category(name);
    ASSIGN_OR_RETURN(auto created, CreateEnv(library, probe, call_timeout));
    Category c;
    c.name = name;
    c.kind = CategoryKind::kExternal;
    c.description = absl::StrCat("from plugin ", library->name(), " ", library->version());
    c.top_level = created.second;
    c.backend = absl::StrCat("plugin:", library->path());
    c.build = [library, call_timeout](const proto::EnvSpec& spec) {
      return MakePluginEnvironment(library, spec, call_timeout);
    };
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace dsarl::envs
