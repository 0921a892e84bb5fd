/* The C ABI of environment plugins: shared libraries, written in any language that can export C
 * functions, loaded by path (EnvsConfig.plugin_paths, or EnvSpec.backend "plugin:PATH").
 *
 * Why C and callbacks: a C ABI survives compilers, standard libraries and protobuf versions, and
 * callbacks (instead of returned buffers) leave every allocation on its own side, so there is
 * nothing to free across the boundary. All strings are NUL-terminated UTF-8; the host copies what
 * a callback receives before the callback returns.
 *
 * The plugin exports one symbol, DSARL_ENV_PLUGIN_ENTRY ("dsarl_env_plugin_v1"), a function
 * returning its dsarl_env_plugin table. The table's abi_version must equal DSARL_ENV_ABI_VERSION;
 * a new incompatible ABI gets a new version and a new entry symbol, so an old plugin is refused
 * with a message, never misread.
 *
 * Lifecycle (mirrors envs/environment.h):
 *   env  = create(category, seed, params..., host)                host: set_top_level
 *   ep   = reset(env, seed, level, host)                          host: set_system, set_user,
 *                                                                 add_tool*, add_reference,
 *                                                                 solution callbacks
 *   rc   = step(env, ep, calls, n, host)                          host: add_result x n, set_done
 *   rc   = verify(env, ep, answer, host)                          host: set_verdict
 *          close(env, ep); destroy(env)
 * A failing call reports host->set_error(ctx, message) and returns NULL (create, reset) or
 * nonzero (step, verify). A model's bad tool call is not a failure: report it with
 * add_result(..., is_error = 1).
 *
 * Contract the host enforces: every call has a deadline (EnvsConfig.call_timeout_s); a call that
 * misses it, throws a C++ exception, reports more than 4 MiB of text in all (the bound a remote
 * environment's reply has), or reports garbage (no user message, a result count that differs from
 * the call count, a score outside [0, 1], invalid UTF-8, a callback out of place) marks that
 * episode as an infrastructure error, and other episodes go on. set_error messages past 4 KiB are
 * cut. Calls for different
 * episodes of one env may run concurrently on different threads; calls for one episode never
 * overlap. The host never unloads a plugin (a call that timed out may still be running in it).
 * A plugin that crashes the process takes the process with it: run untrusted environments as
 * remote environments instead (proto/env.proto).
 */
#ifndef DSARL_ENVS_PLUGIN_ABI_H_
#define DSARL_ENVS_PLUGIN_ABI_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DSARL_ENV_ABI_VERSION 1
#define DSARL_ENV_PLUGIN_ENTRY "dsarl_env_plugin_v1"

/* Callbacks the host passes to every call; `ctx` is the first argument of each. */
typedef struct dsarl_env_host {
  void* ctx;
  /* Any call: why it failed. */
  void (*set_error)(void* ctx, const char* message);
  /* create: the top of the environment's difficulty ladder (reset accepts 0..level). */
  void (*set_top_level)(void* ctx, int32_t level);
  /* reset: the task. add_tool_parameter adds to the tool added last; types are "string",
   * "integer" or "number". The reference solution is rounds of calls (add_solution_round starts
   * one; add_solution_argument adds to the call added last) and a final answer. */
  void (*set_system)(void* ctx, const char* text);
  void (*set_user)(void* ctx, const char* text);
  void (*add_tool)(void* ctx, const char* name, const char* description);
  void (*add_tool_parameter)(void* ctx, const char* name, const char* type, const char* description,
                             int32_t required);
  void (*add_reference)(void* ctx, const char* key, const char* value);
  void (*add_solution_round)(void* ctx);
  void (*add_solution_call)(void* ctx, const char* tool_name);
  void (*add_solution_argument)(void* ctx, const char* key, const char* value);
  void (*set_solution_answer)(void* ctx, const char* answer);
  /* step: one result per call, in call order; set_done when the episode is over. */
  void (*add_result)(void* ctx, const char* output, int32_t is_error);
  void (*set_done)(void* ctx);
  /* verify: the score in [0, 1] and why. */
  void (*set_verdict)(void* ctx, double score, const char* details);
} dsarl_env_host;

/* One tool call as the model wrote it: arguments in order, values as raw text. */
typedef struct dsarl_env_tool_call {
  const char* name;
  uint32_t num_arguments;
  const char* const* keys;
  const char* const* values;
} dsarl_env_tool_call;

typedef struct dsarl_env_plugin {
  uint32_t abi_version;          /* DSARL_ENV_ABI_VERSION */
  const char* name;              /* e.g. "word_env" */
  const char* version;           /* e.g. "1.0" */
  const char* const* categories; /* the categories it serves, NULL-terminated */
  void* (*create)(const char* category, uint64_t seed, uint32_t num_params, const char* const* keys,
                  const char* const* values, const dsarl_env_host* host);
  void (*destroy)(void* env);
  void* (*reset)(void* env, uint64_t seed, int32_t level, const dsarl_env_host* host);
  int32_t (*step)(void* env, void* episode, const dsarl_env_tool_call* calls, uint32_t num_calls,
                  const dsarl_env_host* host);
  int32_t (*verify)(void* env, void* episode, const char* final_answer, const dsarl_env_host* host);
  void (*close)(void* env, void* episode);
} dsarl_env_plugin;

/* The type of the exported entry function. */
typedef const dsarl_env_plugin* (*dsarl_env_plugin_entry_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DSARL_ENVS_PLUGIN_ABI_H_ */
