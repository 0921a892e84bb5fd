// A plugin that misbehaves on request, for plugin_test.cc. Category "faulty": one tool per fault.
//   echo(text)   answers text (the good path)          boom     throws std::runtime_error
//   hang         sleeps for 30 s                         garbage  reports no result at all
//   bad_utf8     reports invalid UTF-8                   answer "score7" makes verify report 7
//   huge(bytes)  answers that many bytes of text          exit     calls exit(0) inside the call
// Reset with seed 666 throws; seed 777 returns NULL without an error.
// Written in C++ on purpose: the exceptions cross the C ABI, which the host must survive.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

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
  if (seed == 666) throw std::runtime_error("reset exploded");
  if (seed == 777) return nullptr;
  auto* e = new Episode{"hello " + std::to_string(seed)};
  host->set_system(host->ctx, "Echo the text with the tool, then answer with it.");
  host->set_user(host->ctx, ("Echo: " + e->expected).c_str());
  host->add_tool(host->ctx, "echo", "Returns its text.");
  host->add_tool_parameter(host->ctx, "text", "string", "the text", 1);
  for (const char* name : {"boom", "hang", "garbage", "bad_utf8", "exit"}) {
    host->add_tool(host->ctx, name, "misbehaves");
  }
  host->add_tool(host->ctx, "huge", "answers this many bytes");
  host->add_tool_parameter(host->ctx, "bytes", "integer", "how many", 1);
  host->add_solution_round(host->ctx);
  host->add_solution_call(host->ctx, "echo");
  host->add_solution_argument(host->ctx, "text", e->expected.c_str());
  host->set_solution_answer(host->ctx, e->expected.c_str());
  return e;
}

int32_t Step(void*, void*, const dsarl_env_tool_call* calls, uint32_t n,
             const dsarl_env_host* host) {
  for (uint32_t i = 0; i < n; ++i) {
    const std::string name = calls[i].name;
    if (name == "boom") throw std::runtime_error("tool boom exploded");
    if (name == "hang") std::this_thread::sleep_for(std::chrono::seconds(30));
    if (name == "garbage") return 0;  // no add_result at all
    if (name == "exit") std::exit(0);
    if (name == "huge" && calls[i].num_arguments == 1) {
      host->add_result(host->ctx, std::string(std::stoull(calls[i].values[0]), 'x').c_str(), 0);
    } else if (name == "bad_utf8") {
      host->add_result(host->ctx, "\xff\xfe", 0);
    } else if (name == "echo" && calls[i].num_arguments == 1) {
      host->add_result(host->ctx, calls[i].values[0], 0);
    } else {
      host->add_result(host->ctx, "error: unknown tool or bad arguments", 1);
    }
  }
  return 0;
}

int32_t Verify(void*, void* episode, const char* answer, const dsarl_env_host* host) {
  if (std::strcmp(answer, "score7") == 0) {
    host->set_verdict(host->ctx, 7.0, "too good");
    return 0;
  }
  const bool ok = static_cast<Episode*>(episode)->expected == answer;
  host->set_verdict(host->ctx, ok ? 1.0 : 0.0, ok ? "echoed" : "wrong");
  return 0;
}

void Close(void*, void* episode) { delete static_cast<Episode*>(episode); }

const char* const kCategories[] = {"faulty", nullptr};
const dsarl_env_plugin kPlugin = {
    DSARL_ENV_ABI_VERSION, "faulty", "0", kCategories, Create, Destroy, Reset, Step, Verify, Close};

}  // namespace

extern "C" const dsarl_env_plugin* dsarl_env_plugin_v1() { return &kPlugin; }
