// Word lists and invented names (names.h).
#include "envs/names.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace dsarl::envs {

const std::vector<std::string>& FirstNames() {
  static const std::vector<std::string> kNames = {
      "Ada",   "Bruno",  "Carla",  "Dario",  "Elena", "Felix", "Greta",  "Hugo",   "Irene", "Jonas",
      "Klara", "Lukas",  "Maya",   "Nils",   "Olga",  "Pavel", "Quinn",  "Rosa",   "Simon", "Tara",
      "Ulla",  "Victor", "Wanda",  "Xavier", "Yara",  "Zeno",  "Amir",   "Bianca", "Cyrus", "Dana",
      "Emil",  "Freya",  "Gavin",  "Hana",   "Ivan",  "Jade",  "Kai",    "Lena",   "Marco", "Nora",
      "Omar",  "Petra",  "Rafael", "Sara",   "Tomas", "Uma",   "Vera",   "Walter", "Yusuf", "Zara",
      "Alba",  "Boris",  "Celia",  "Diego",  "Edith", "Farid", "Gloria", "Henrik", "Ines",  "Jorge",
      "Karin", "Leon",   "Mila",   "Noah"};
  return kNames;
}

const std::vector<std::string>& LastNames() {
  static const std::vector<std::string> kNames = {
      "Abbott",  "Bauer",   "Castro",   "Dalton",    "Eriksen",  "Fischer",  "Garcia", "Hansen",
      "Ibarra",  "Jensen",  "Keller",   "Lindqvist", "Moreau",   "Nakamura", "Olsen",  "Petrov",
      "Quinlan", "Rossi",   "Schmidt",  "Tanaka",    "Ueda",     "Varga",    "Weber",  "Xu",
      "Yilmaz",  "Zimmer",  "Alvarez",  "Brandt",    "Costa",    "Dubois",   "Evans",  "Ferrari",
      "Gupta",   "Horvat",  "Ivanova",  "Janssen",   "Kowalski", "Lopez",    "Meyer",  "Novak",
      "Ortiz",   "Park",    "Reyes",    "Sato",      "Torres",   "Usman",    "Vogel",  "Wagner",
      "Young",   "Ziegler", "Andersen", "Becker",    "Chen",     "Dias",     "Engel",  "Fuchs",
      "Graf",    "Holm",    "Ito",      "Jovanovic", "Kim",      "Lang",     "Marsh",  "Nguyen"};
  return kNames;
}

const std::vector<std::string>& CommonWords() {
  static const std::vector<std::string> kWords = {
      "apple",  "river",  "stone",   "cloud",  "tiger",  "lemon",  "paper",   "music",
      "green",  "house",  "light",   "table",  "water",  "bread",  "chair",   "dream",
      "earth",  "flame",  "glass",   "heart",  "island", "jacket", "kettle",  "ladder",
      "market", "needle", "orange",  "pencil", "rabbit", "silver", "tomato",  "violet",
      "window", "yellow", "zebra",   "anchor", "basket", "candle", "desert",  "engine",
      "forest", "garden", "hammer",  "insect", "jungle", "kitten", "lizard",  "mirror",
      "number", "ocean",  "planet",  "quartz", "rocket", "saddle", "ticket",  "umbrella",
      "valley", "walnut", "yogurt",  "bridge", "castle", "dragon", "feather", "guitar",
      "helmet", "kernel", "lantern", "meadow", "nickel", "oyster", "pepper",  "puzzle",
      "ribbon", "shadow", "thunder", "velvet", "wizard", "breeze", "copper",  "dinner",
      "falcon", "ginger", "harbor",  "igloo",  "jewel",  "koala",  "lotus",   "maple",
      "noodle", "olive",  "pirate",  "radish", "sugar",  "tunnel", "unicorn", "vessel",
      "wagon",  "cactus", "donkey",  "eagle",  "fossil", "goblet", "hazel",   "iron",
      "jelly",  "knight", "lilac",   "magnet", "nectar", "orbit",  "parrot",  "quiver",
      "raven",  "spruce", "turtle",  "urchin", "vapor",  "willow", "amber",   "bison",
      "cobalt", "daisy",  "ember",   "fjord",  "gravel", "hollow", "ivory",   "juniper",
      "kiwi",   "lagoon"};
  return kWords;
}

const std::vector<std::string>& Colors() {
  static const std::vector<std::string> k = {"red",   "blue",   "green",  "yellow", "white",
                                             "black", "purple", "orange", "gray",   "pink"};
  return k;
}

const std::vector<std::string>& Animals() {
  static const std::vector<std::string> k = {"cat",    "dog",   "fish",    "parrot", "rabbit",
                                             "turtle", "horse", "hamster", "snake",  "lizard"};
  return k;
}

const std::vector<std::string>& Drinks() {
  static const std::vector<std::string> k = {"tea",   "coffee",   "milk", "juice", "water",
                                             "cocoa", "lemonade", "soda", "cider", "kefir"};
  return k;
}

std::string InventedName(Rng& rng, int syllables) {
  static const char* kOnsets[] = {"b", "d", "f", "g", "k",  "l",  "m",  "n",  "p",  "r",
                                  "s", "t", "v", "z", "br", "dr", "kr", "st", "tr", "th"};
  static const char* kVowels[] = {"a", "e", "i", "o", "u", "ai", "ea", "io"};
  static const char* kCodas[] = {"", "", "", "n", "r", "l", "s", "m"};
  std::string out;
  for (int i = 0; i < syllables; ++i) {
    absl::StrAppend(&out, rng.Pick(kOnsets), rng.Pick(kVowels));
    if (i + 1 == syllables || rng.Chance(0.3)) out += rng.Pick(kCodas);
  }
  out[0] = absl::ascii_toupper(static_cast<unsigned char>(out[0]));
  return out;
}

std::string UniqueInventedName(Rng& rng, std::set<std::string>* taken, int syllables) {
  for (int attempt = 0;; ++attempt) {
    std::string name = InventedName(rng, syllables + attempt / 16);
    if (taken->insert(name).second) return name;
  }
}

std::string UniquePersonName(Rng& rng, std::set<std::string>* taken) {
  for (int attempt = 0;; ++attempt) {
    std::string name = absl::StrCat(rng.Pick(FirstNames()), " ", rng.Pick(LastNames()));
    if (attempt >= 32) {
      name = absl::StrCat(rng.Pick(FirstNames()), " ", std::string(1, 'A' + rng.Index(26)), ". ",
                          rng.Pick(LastNames()));
    }
    if (taken->insert(name).second) return name;
  }
}

}  // namespace dsarl::envs
