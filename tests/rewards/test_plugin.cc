// Misbehaving reward plugins for plugin_test.cc, one per TEST_PLUGIN_MODE:
//   1 wrong ABI version   2 declines the host's version   3 score fails with a message
//   4 score throws        5 emits for a sample that does not exist
//   6 not thread-safe: score reports an error if it ever runs twice at once (the host must
//     serialize it), and otherwise emits the number of samples
// In every mode, params change score first: exit=1 calls exit(0) (a plugin that ends the process
// inside a call), sleep_ms=N sleeps N ms (a plugin that hangs past its deadline), details_bytes=N
// emits one component with N bytes of details (an output over the bound on one reply) and returns.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

#include "rewards/plugin_abi.h"

namespace {

struct Instance {
  bool exit = false;
  long sleep_ms = 0;
  long details_bytes = 0;
};

int Create(const dsarl_reward_kv* params, size_t num_params, void** instance, char* error,
           size_t error_size) {
  auto* in = new Instance();
  for (size_t i = 0; i < num_params; ++i) {
    const std::string key(params[i].key.data, params[i].key.size);
    const long value = std::strtol(params[i].value.data, nullptr, 10);
    if (key == "exit") {
      in->exit = value != 0;
    } else if (key == "sleep_ms") {
      in->sleep_ms = value;
    } else if (key == "details_bytes") {
      in->details_bytes = value;
    } else {
      std::snprintf(error, error_size, "unknown param '%s'", key.c_str());
      delete in;
      return 1;
    }
  }
  *instance = in;
  return 0;
}

void Destroy(void* instance) { delete static_cast<Instance*>(instance); }

std::atomic<int> in_flight{0};

int Score(void* instance, const dsarl_reward_task*, const dsarl_reward_sample*, size_t num_samples,
          const dsarl_reward_sink* sink, char* error, size_t error_size) {
  const Instance& in = *static_cast<Instance*>(instance);
  if (in.exit) std::exit(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(in.sleep_ms));
  if (in.details_bytes > 0) {
    const std::string details(static_cast<size_t>(in.details_bytes), 'x');
    sink->emit(sink->host, 0, "", 1, 1, details.c_str());
    return 0;
  }
  switch (TEST_PLUGIN_MODE) {
    case 3:
      std::snprintf(error, error_size, "model server exploded");
      return 3;
    case 4:
      throw std::runtime_error("boom");
    case 5:
      return sink->emit(sink->host, num_samples, "", 1, 1, nullptr) != 0 ? 0 : 1;
    case 6: {
      const bool overlapped = in_flight.fetch_add(1) != 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      in_flight.fetch_sub(1);
      if (overlapped) {
        std::snprintf(error, error_size, "called concurrently");
        return 1;
      }
      for (size_t i = 0; i < num_samples; ++i) {
        sink->emit(sink->host, i, "", static_cast<double>(num_samples), 1, nullptr);
      }
      return 0;
    }
  }
  return 0;
}

const dsarl_reward_plugin kPlugin = {TEST_PLUGIN_MODE == 1 ? 99u : DSARL_REWARD_ABI_VERSION,
                                     0,
                                     "test_plugin",
                                     Create,
                                     Destroy,
                                     Score};

}  // namespace

extern "C" __attribute__((visibility("default"))) const dsarl_reward_plugin*
dsarl_reward_plugin_get(uint32_t) {
  return TEST_PLUGIN_MODE == 2 ? nullptr : &kPlugin;
}
