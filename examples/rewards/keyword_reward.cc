// An example reward plugin: the share of required keywords that the final answer mentions.
// Build it with CMake (target dsarl_keyword_reward) or by hand:
//
//   g++ -std=c++17 -O2 -shared -fPIC -I<dsarl checkout> keyword_reward.cc -o libkeyword_reward.so
//
// and name it in a config:
//
//   components {
//     name: "keywords" weight: 0.5
//     params { key: "type" value: "plugin" }
//     params { key: "plugin_path" value: "build/examples/rewards/libdsarl_keyword_reward.so" }
//     params { key: "keywords" value: "Paris,France" }
//   }
//
// It shows everything a plugin does: parses its parameters in create (and rejects unknown ones),
// keeps its state in the instance, emits a value and a sub-component per sample, reports errors
// through the error buffer, and never lets an exception cross the C boundary. Only
// rewards/plugin_abi.h is included: the plugin does not link against dsarl.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "rewards/plugin_abi.h"

namespace {

struct KeywordReward {
  std::vector<std::string> keywords;
  bool case_sensitive = false;
};

std::string ToStr(dsarl_reward_str s) { return std::string(s.data, s.size); }

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

void SetError(char* error, size_t size, const std::string& message) {
  std::snprintf(error, size, "%s", message.c_str());
}

int Create(const dsarl_reward_kv* params, size_t num_params, void** instance, char* error,
           size_t error_size) {
  try {
    auto reward = new KeywordReward();
    for (size_t i = 0; i < num_params; ++i) {
      const std::string key = ToStr(params[i].key);
      const std::string value = ToStr(params[i].value);
      if (key == "keywords") {
        size_t start = 0;
        while (start <= value.size()) {
          size_t comma = value.find(',', start);
          if (comma == std::string::npos) comma = value.size();
          std::string word = value.substr(start, comma - start);
          if (!word.empty()) reward->keywords.push_back(word);
          start = comma + 1;
        }
      } else if (key == "case_sensitive") {
        reward->case_sensitive = value == "true" || value == "1";
      } else {
        delete reward;
        SetError(error, error_size,
                 "unknown param '" + key + "' (known: keywords, case_sensitive)");
        return 1;
      }
    }
    if (reward->keywords.empty()) {
      delete reward;
      SetError(error, error_size, "param 'keywords' (comma-separated) is required");
      return 1;
    }
    if (!reward->case_sensitive) {
      for (std::string& k : reward->keywords) k = Lower(k);
    }
    *instance = reward;
    return 0;
  } catch (const std::exception& e) {
    SetError(error, error_size, e.what());
    return 1;
  }
}

void Destroy(void* instance) { delete static_cast<KeywordReward*>(instance); }

int Score(void* instance, const dsarl_reward_task* task, const dsarl_reward_sample* samples,
          size_t num_samples, const dsarl_reward_sink* sink, char* error, size_t error_size) {
  (void)task;
  try {
    const auto* reward = static_cast<const KeywordReward*>(instance);
    for (size_t i = 0; i < num_samples; ++i) {
      std::string answer = ToStr(samples[i].final_answer);
      if (!reward->case_sensitive) answer = Lower(answer);
      std::string missing;
      int found = 0;
      for (const std::string& k : reward->keywords) {
        if (answer.find(k) != std::string::npos) {
          ++found;
        } else {
          missing += (missing.empty() ? "" : ",") + k;
        }
      }
      const double share = static_cast<double>(found) / reward->keywords.size();
      const std::string details = missing.empty() ? "all keywords" : "missing " + missing;
      if (sink->emit(sink->host, i, "", share, 1, details.c_str()) != 0 ||
          sink->emit(sink->host, i, "missing", static_cast<double>(reward->keywords.size() - found),
                     1, nullptr) != 0) {
        SetError(error, error_size, "the host rejected a component");
        return 1;
      }
    }
    return 0;
  } catch (const std::exception& e) {
    SetError(error, error_size, e.what());
    return 1;
  }
}

const dsarl_reward_plugin kPlugin = {
    DSARL_REWARD_ABI_VERSION,
    DSARL_REWARD_PLUGIN_THREAD_SAFE,  // Score only reads the instance
    "keyword_reward",
    Create,
    Destroy,
    Score,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const dsarl_reward_plugin*
dsarl_reward_plugin_get(uint32_t host_abi_version) {
  return host_abi_version == DSARL_REWARD_ABI_VERSION ? &kPlugin : nullptr;
}
