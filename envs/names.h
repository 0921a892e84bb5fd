// Word lists and an invented-name generator for synthesized tasks and databases.
//
// Why invented names: facts about "Kelmora" cannot be recalled from pre-training, so a model has
// to look them up with the tools, which is what the agent and search environments train.
#ifndef DSARL_ENVS_NAMES_H_
#define DSARL_ENVS_NAMES_H_

#include <set>
#include <string>
#include <vector>

#include "envs/rng.h"

namespace dsarl::envs {

const std::vector<std::string>& FirstNames();   // 64 given names, capitalized
const std::vector<std::string>& LastNames();    // 64 family names, capitalized
const std::vector<std::string>& CommonWords();  // 128 short lowercase English words
const std::vector<std::string>& Colors();       // 10
const std::vector<std::string>& Animals();      // 10
const std::vector<std::string>& Drinks();       // 10

// A pronounceable invented word of `syllables` syllables, capitalized ("Kelmora").
std::string InventedName(Rng& rng, int syllables);

// An invented name not in `taken` (which it is added to); tries longer names when short ones run
// out, so it always succeeds.
std::string UniqueInventedName(Rng& rng, std::set<std::string>* taken, int syllables = 3);

// "First Last" not in `taken` (added to it); appends a middle initial when pairs run out.
std::string UniquePersonName(Rng& rng, std::set<std::string>* taken);

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_NAMES_H_
