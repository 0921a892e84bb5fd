// An environment plugin that fails on request, for supervisor_test.sh: a worker failure that no
// check of the config can see coming. Category "failing": echo a text with the tool, then answer
// it. The environment variable FAILING_PLUGIN_FAULT, read at every reset, picks the fault:
//   unset    works (so that `dsarl envs synthesize` can make its tasks)
//   crash    writes one line to stderr and dies of SIGSEGV: the worker crashes
//   error    reports an error: every episode is an infrastructure error
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "envs/plugin_abi.h"

namespace {

struct Episode {
  std::string expected;
};

void* Create(const char*, uint64_t, uint32_t, const char* const*, const char* const*,
             const dsarl_env_host* host) {
  host->set_top_level(host->ctx, 0);
  static int env = 0;
  return &env;
}

void Destroy(void*) {}

void* Reset(void*, uint64_t seed, int32_t, const dsarl_env_host* host) {
  const char* fault = std::getenv("FAILING_PLUGIN_FAULT");
  if (fault != nullptr && std::strcmp(fault, "crash") == 0) {
    std::fprintf(stderr, "failing plugin: reset of seed %llu crashes the process on purpose\n",
                 static_cast<unsigned long long>(seed));
    std::fflush(stderr);
    std::raise(SIGSEGV);
  }
  if (fault != nullptr && std::strcmp(fault, "error") == 0) {
    host->set_error(host->ctx, "failing plugin: reset fails on purpose");
    return nullptr;
  }
  auto* e = new Episode{"hello " + std::to_string(seed)};
  host->set_system(host->ctx, "Echo the text with the tool, then answer with it.");
  host->set_user(host->ctx, ("Echo: " + e->expected).c_str());
  host->add_tool(host->ctx, "echo", "Returns its text.");
  host->add_tool_parameter(host->ctx, "text", "string", "the text", 1);
  host->add_solution_round(host->ctx);
  host->add_solution_call(host->ctx, "echo");
  host->add_solution_argument(host->ctx, "text", e->expected.c_str());
  host->set_solution_answer(host->ctx, e->expected.c_str());
  return e;
}

int32_t Step(void*, void*, const dsarl_env_tool_call* calls, uint32_t n,
             const dsarl_env_host* host) {
  for (uint32_t i = 0; i < n; ++i) {
    if (std::strcmp(calls[i].name, "echo") == 0 && calls[i].num_arguments == 1) {
      host->add_result(host->ctx, calls[i].values[0], 0);
    } else {
      host->add_result(host->ctx, "error: the only tool is echo(text)", 1);
    }
  }
  return 0;
}

int32_t Verify(void*, void* episode, const char* answer, const dsarl_env_host* host) {
  const bool ok = static_cast<Episode*>(episode)->expected == answer;
  host->set_verdict(host->ctx, ok ? 1.0 : 0.0, ok ? "echoed" : "wrong");
  return 0;
}

void Close(void*, void* episode) { delete static_cast<Episode*>(episode); }

const char* const kCategories[] = {"failing", nullptr};
const dsarl_env_plugin kPlugin = {DSARL_ENV_ABI_VERSION,
                                  "failing",
                                  "0",
                                  kCategories,
                                  Create,
                                  Destroy,
                                  Reset,
                                  Step,
                                  Verify,
                                  Close};

}  // namespace

extern "C" const dsarl_env_plugin* dsarl_env_plugin_v1() { return &kPlugin; }
