/* An example environment plugin in plain C (the ABI is envs/plugin_abi.h; docs/envs.md walks
 * through it). Category "word_sum": each environment has a small dictionary of invented words with
 * values; a task asks for the sum of the values of 1 to 3 words (level 0 to 2), and the tool
 * `value` looks one word up. Everything follows from (seed, level), like a built-in category.
 *
 * Build: cc -shared -fPIC -I<dsarl source root> word_sum_plugin.c -o word_sum_plugin.so
 * (CMake builds it as examples/word_sum_plugin.so). Use: EnvsConfig.plugin_paths, or
 * `dsarl envs synthesize --plugin PATH`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envs/plugin_abi.h"

#define WORDS 12
#define MAX_LEVEL 2

typedef struct {
  char words[WORDS][8];
  int values[WORDS];
} env_t;

typedef struct {
  int answer;
} episode_t;

static uint64_t next_random(uint64_t* state) { /* splitmix64 */
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void* create(const char* category, uint64_t seed, uint32_t num_params,
                    const char* const* keys, const char* const* values,
                    const dsarl_env_host* host) {
  static const char* syllables[] = {"ka", "lo", "mi", "nu", "pe", "ro", "su", "ti", "va", "ze"};
  (void)keys;
  (void)values;
  if (strcmp(category, "word_sum") != 0 || num_params != 0) {
    host->set_error(host->ctx, "word_sum takes no parameters");
    return NULL;
  }
  env_t* env = calloc(1, sizeof(env_t));
  if (env == NULL) {
    host->set_error(host->ctx, "out of memory");
    return NULL;
  }
  uint64_t state = seed;
  for (int i = 0; i < WORDS; ++i) {
    /* Two random syllables plus the index letter keep the words distinct. */
    snprintf(env->words[i], sizeof(env->words[i]), "%s%s%c", syllables[next_random(&state) % 10],
             syllables[next_random(&state) % 10], 'a' + i);
    env->values[i] = (int)(next_random(&state) % 100);
  }
  host->set_top_level(host->ctx, MAX_LEVEL);
  return env;
}

static void destroy(void* env) { free(env); }

static void* reset(void* e, uint64_t seed, int32_t level, const dsarl_env_host* host) {
  env_t* env = e;
  if (level < 0 || level > MAX_LEVEL) {
    host->set_error(host->ctx, "level out of range");
    return NULL;
  }
  episode_t* ep = calloc(1, sizeof(episode_t));
  if (ep == NULL) {
    host->set_error(host->ctx, "out of memory");
    return NULL;
  }
  uint64_t state = seed ^ ((uint64_t)level << 56);
  int picked[MAX_LEVEL + 1];
  char user[256] = "What is the sum of the values of the words";
  host->add_solution_round(host->ctx);
  for (int i = 0; i <= level; ++i) {
    picked[i] = (int)(next_random(&state) % WORDS);
    ep->answer += env->values[picked[i]];
    strcat(user, i == 0 ? " " : (i == level ? " and " : ", "));
    strcat(user, env->words[picked[i]]);
    host->add_solution_call(host->ctx, "value");
    host->add_solution_argument(host->ctx, "word", env->words[picked[i]]);
  }
  strcat(user, "? Count a word as often as it is named.");
  char answer[16];
  snprintf(answer, sizeof(answer), "%d", ep->answer);
  host->set_system(host->ctx,
                   "Look up each word's value with the tool, then reply with only "
                   "the sum.");
  host->set_user(host->ctx, user);
  host->add_tool(host->ctx, "value", "The value of a word.");
  host->add_tool_parameter(host->ctx, "word", "string", "the word", 1);
  host->add_reference(host->ctx, "answer", answer);
  host->add_reference(host->ctx, "match", "integer");
  host->set_solution_answer(host->ctx, answer);
  return ep;
}

static int32_t step(void* e, void* episode, const dsarl_env_tool_call* calls, uint32_t n,
                    const dsarl_env_host* host) {
  env_t* env = e;
  (void)episode;
  for (uint32_t i = 0; i < n; ++i) {
    const char* word = NULL;
    for (uint32_t k = 0; k < calls[i].num_arguments; ++k) {
      if (strcmp(calls[i].keys[k], "word") == 0) word = calls[i].values[k];
    }
    if (strcmp(calls[i].name, "value") != 0) {
      host->add_result(host->ctx, "error: the only tool is 'value'", 1);
    } else if (word == NULL || calls[i].num_arguments != 1) {
      host->add_result(host->ctx, "error: value takes exactly one parameter, 'word'", 1);
    } else {
      int found = -1;
      for (int w = 0; w < WORDS; ++w) {
        if (strcmp(env->words[w], word) == 0) found = w;
      }
      char out[64];
      if (found < 0) {
        host->add_result(host->ctx, "error: no such word", 1);
      } else {
        snprintf(out, sizeof(out), "%d", env->values[found]);
        host->add_result(host->ctx, out, 0);
      }
    }
  }
  return 0;
}

static int32_t verify(void* env, void* episode, const char* final_answer,
                      const dsarl_env_host* host) {
  episode_t* ep = episode;
  char* end = NULL;
  (void)env;
  while (*final_answer == ' ' || *final_answer == '\n') ++final_answer;
  long given = strtol(final_answer, &end, 10);
  while (end != NULL && (*end == ' ' || *end == '\n' || *end == '.')) ++end;
  const int ok = end != final_answer && end != NULL && *end == '\0' && given == ep->answer;
  char details[64];
  snprintf(details, sizeof(details), "expected %d", ep->answer);
  host->set_verdict(host->ctx, ok ? 1.0 : 0.0, details);
  return 0;
}

static void close_episode(void* env, void* episode) {
  (void)env;
  free(episode);
}

static const char* const kCategories[] = {"word_sum", NULL};
static const dsarl_env_plugin kPlugin = {DSARL_ENV_ABI_VERSION,
                                         "word_sum_plugin",
                                         "1.0",
                                         kCategories,
                                         create,
                                         destroy,
                                         reset,
                                         step,
                                         verify,
                                         close_episode};

const dsarl_env_plugin* dsarl_env_plugin_v1(void) { return &kPlugin; }
