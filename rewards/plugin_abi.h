/* The C ABI of reward plugins: a shared library that dsarl loads with dlopen (a config entry with
 * params { type: "plugin", plugin_path: "/path/libmy_reward.so" }).
 *
 * Why C: a plugin built with any compiler, standard library or language (C, C++, Rust, Zig) loads
 * into any dsarl build. Nothing C++ crosses this line: no exceptions, no std:: types, no ownership
 * transfer. Everything the host passes is valid only during the call that receives it; copy what
 * you keep. Strings are (pointer, size) and are also NUL-terminated; they may contain any bytes
 * (model output is not always valid UTF-8).
 *
 * A plugin exports one function, dsarl_reward_plugin_get, and returns a table of three functions:
 *   create   parse parameters, make an instance        (once per config entry)
 *   score    score the G samples of one prompt          (many times, see threading)
 *   destroy  free the instance                          (once)
 *
 * Versioning: DSARL_REWARD_ABI_VERSION changes whenever a struct below changes. The host passes
 * its version to dsarl_reward_plugin_get; the plugin returns NULL when it was built for another
 * one, and the host also checks the table's abi_version. Version 1 is the first.
 *
 * Threading: without DSARL_REWARD_PLUGIN_THREAD_SAFE in flags, the host never calls score on one
 * instance from two threads at once. With it, score may run concurrently on the same instance.
 *
 * Errors: create and score return 0 on success. Any other value means the plugin failed (not the
 * model): the host records an infrastructure error on every sample of the group, using the text
 * the plugin wrote into `error` (at most error_size bytes, NUL included). A C++ plugin must not let
 * an exception escape; the host also catches any that do and treats them as failures.
 *
 * Bounds, the same as a remote reward service's: every call has the deadline
 * RewardsConfig.call_timeout_s (a score call past it is an infrastructure error and the host stops
 * waiting for it; the host keeps everything the call reads alive until it returns), and what one
 * score call emits (names, details and 8 bytes per value) may total at most 4 MiB. See
 * examples/rewards/keyword_reward.cc for a complete plugin.
 */
#ifndef DSARL_REWARDS_PLUGIN_ABI_H_
#define DSARL_REWARDS_PLUGIN_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DSARL_REWARD_ABI_VERSION 1u

/* Bits of dsarl_reward_plugin.flags. */
#define DSARL_REWARD_PLUGIN_THREAD_SAFE 1u

typedef struct dsarl_reward_str {
  const char* data; /* NUL-terminated as well; never NULL (an empty string is "") */
  size_t size;      /* bytes, without the NUL */
} dsarl_reward_str;

typedef struct dsarl_reward_kv {
  dsarl_reward_str key;
  dsarl_reward_str value;
} dsarl_reward_kv;

typedef struct dsarl_reward_tool_call {
  dsarl_reward_str name;
  const dsarl_reward_kv* arguments; /* in the order the model wrote them */
  size_t num_arguments;
} dsarl_reward_tool_call;

/* Values of dsarl_reward_message.role. */
#define DSARL_REWARD_ROLE_SYSTEM 0
#define DSARL_REWARD_ROLE_USER 1
#define DSARL_REWARD_ROLE_ASSISTANT 2
#define DSARL_REWARD_ROLE_TOOL 3

/* One message; fields as in rewards/reward.h (Message). */
typedef struct dsarl_reward_message {
  int32_t role;
  dsarl_reward_str content;     /* system/user text, assistant visible answer, tool output */
  dsarl_reward_str reasoning;   /* assistant: thinking without tags */
  dsarl_reward_str raw_text;    /* assistant: exactly what the model wrote, markup included */
  dsarl_reward_str parse_error; /* assistant: the rollout parser's complaint, or "" */
  const dsarl_reward_tool_call* tool_calls; /* assistant */
  size_t num_tool_calls;
  int32_t is_error;   /* tool: 1 when the environment rejected the call */
  int32_t num_tokens; /* assistant: tokens generated in this turn */
} dsarl_reward_message;

/* Values of dsarl_reward_sample.finish_reason: those of dsarl.proto.FinishReason. */
#define DSARL_REWARD_FINISH_UNSPECIFIED 0
#define DSARL_REWARD_FINISH_EOS 1
#define DSARL_REWARD_FINISH_MAX_TOKENS 2
#define DSARL_REWARD_FINISH_MAX_TURNS 3
#define DSARL_REWARD_FINISH_CONTEXT 4

/* One trajectory; fields as in rewards/reward.h (Sample). */
typedef struct dsarl_reward_sample {
  const dsarl_reward_message* messages;
  size_t num_messages;
  dsarl_reward_str final_answer;
  int32_t num_generated_tokens;
  int32_t finish_reason;
  int32_t has_verdict; /* 1 when the environment's verdict is below */
  double verdict_score;
  dsarl_reward_str verdict_details;
} dsarl_reward_sample;

/* The task (dsarl.proto.Prompt), the parts a reward reads. */
typedef struct dsarl_reward_task {
  uint64_t prompt_id;
  dsarl_reward_str category;
  dsarl_reward_str system;
  dsarl_reward_str user;
  const dsarl_reward_kv* reference; /* sorted by key */
  size_t num_reference;
} dsarl_reward_task;

/* Where score puts its results. */
typedef struct dsarl_reward_sink {
  void* host;
  /* Records one component of sample `sample_index` (0..num_samples-1). `name` "" is the entry's
   * own value; any other name is a sub-component, logged as "<entry>.<name>". `applicable` 0 means
   * "not applicable" (value ignored). `details` may be NULL. Returns 0, or nonzero (and records
   * nothing) for an index out of range, a NULL name or a name already emitted for that sample; the
   * host then fails the group. */
  int (*emit)(void* host, size_t sample_index, const char* name, double value, int applicable,
              const char* details);
} dsarl_reward_sink;

typedef struct dsarl_reward_plugin {
  uint32_t abi_version; /* DSARL_REWARD_ABI_VERSION the plugin was built with */
  uint32_t flags;       /* DSARL_REWARD_PLUGIN_* bits */
  const char* name;     /* for logs and messages */

  /* Makes an instance from the entry's parameters (every key of the config entry's params except
   * type, plugin_path and primary; sorted by key). On success stores it in *instance and returns
   * 0; otherwise writes why into `error` and returns nonzero. */
  int (*create)(const dsarl_reward_kv* params, size_t num_params, void** instance, char* error,
                size_t error_size);

  /* Frees an instance made by create. */
  void (*destroy)(void* instance);

  /* Scores the num_samples samples of one prompt, calling sink->emit for each component. Samples
   * the plugin emits nothing for get no value (the composer reports that). Returns 0 on success;
   * otherwise writes why into `error` and returns nonzero. */
  int (*score)(void* instance, const dsarl_reward_task* task, const dsarl_reward_sample* samples,
               size_t num_samples, const dsarl_reward_sink* sink, char* error, size_t error_size);
} dsarl_reward_plugin;

/* The one exported symbol. Returns the plugin's table (static storage, valid until dlclose) when
 * it supports `host_abi_version`, else NULL. */
typedef const dsarl_reward_plugin* (*dsarl_reward_plugin_get_fn)(uint32_t host_abi_version);
#define DSARL_REWARD_PLUGIN_SYMBOL "dsarl_reward_plugin_get"

#ifdef __cplusplus
}
#endif

#endif /* DSARL_REWARDS_PLUGIN_ABI_H_ */
