// BpeTokenizer on a tokenizer.json built here: loading, refusals that name the field, the merge
// loops against their reference, random bytes, threads and long inputs. Agreement with Hugging
// Face `tokenizers` itself is bpe_reference_test.cc.
#include "model/bpe_tokenizer.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <random>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/json.h"
#include "base/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/bpe_merges.h"
#include "model/bpe_pretokenizer.h"
#include "tests/status_matchers.h"

namespace dsarl::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// DeepSeek-V3's third split pattern.
constexpr char kDeepSeekLetters[] =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|)"
    R"( ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// ---- a tokenizer.json built here, for tests that need no Python ---------------------------------

Json SplitStep(const std::string& regex) {
  Json pattern = Json::Object();
  pattern.Set("Regex", Json::String(regex));
  Json s = Json::Object();
  s.Set("type", Json::String("Split"));
  s.Set("pattern", pattern);
  s.Set("behavior", Json::String("Isolated"));
  s.Set("invert", Json::Bool(false));
  return s;
}

Json Typed(const std::string& type) {
  Json j = Json::Object();
  j.Set("type", Json::String(type));
  return j;
}

// The parts of a small DeepSeek-like tokenizer.json, for tests to break one at a time.
struct Parts {
  Json vocab = Json::Object();
  Json merges = Json::Array();
  Json model = Json::Object();  // type etc.; vocab and merges are added by Assemble
  Json added = Json::Array();
  std::vector<Json> pre_steps;
  Json decoder = Typed("ByteLevel");
  std::vector<std::pair<std::string, Json>> root_extra;

  Parts() {
    for (int b = 0; b < 256; ++b)
      vocab.Set(bpe::ByteLevelEncode(std::string(1, char(b))), Json::Int(b));
    const std::vector<std::pair<std::string, std::string>> m = {
        {"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"a", "a"}, {"aa", "aa"}, {"<", "e"}};
    int id = 256;
    for (const auto& [l, r] : m) {
      vocab.Set(l + r, Json::Int(id++));
      merges.Push(Json::Array({Json::String(l), Json::String(r)}));
    }
    model.Set("type", Json::String("BPE"));
    Json eos = Json::Object();
    eos.Set("id", Json::Int(300));
    eos.Set("content", Json::String("<eos>"));
    eos.Set("special", Json::Bool(true));
    added.Push(eos);
    pre_steps = {SplitStep("\\p{N}{1,3}"), SplitStep("[一-龥぀-ゟ゠-ヿ]+"),
                 SplitStep(kDeepSeekLetters)};
    Json bl = Typed("ByteLevel");
    bl.Set("add_prefix_space", Json::Bool(false));
    bl.Set("use_regex", Json::Bool(false));
    pre_steps.push_back(bl);
  }

  std::string Assemble() const {
    Json m = model;
    m.Set("vocab", vocab);
    m.Set("merges", merges);
    Json pre = Typed("Sequence");
    pre.Set("pretokenizers", Json::Array(pre_steps));
    Json root = Json::Object();
    root.Set("added_tokens", added);
    root.Set("normalizer", Json());
    root.Set("pre_tokenizer", pre);
    root.Set("post_processor", Json());
    root.Set("decoder", decoder);
    root.Set("model", m);
    for (const auto& [k, v] : root_extra) root.Set(k, v);
    return root.Dump();
  }
};

BpeTokenizer Small(int cache_entries = 1 << 16) {
  auto t = BpeTokenizer::FromJson(Parts().Assemble(), "small.json", {cache_entries});
  EXPECT_OK(t);
  return *std::move(t);
}

TEST(BpeTokenizer, SmallEncodesAndDecodes) {
  const BpeTokenizer t = Small();
  EXPECT_EQ(t.vocab_size(), 301);
  EXPECT_THAT(t.Encode("the"), ElementsAre('t', 257));  // "t" + "he"
  EXPECT_THAT(t.Encode(" the"), ElementsAre(258));
  EXPECT_THAT(t.Encode("aaaaa"), ElementsAre(260, 'a'));
  EXPECT_THAT(t.EncodeWithSpecials("a<eos>"), ElementsAre('a', 300));
  EXPECT_THAT(t.Encode("<eos>"), ElementsAre(261, 'o', 's', '>'));  // "<e" merges; no special
  EXPECT_EQ(t.Decode({258, 300, -1, 299, 5000}), " the<eos><unused:-1><unused:299><unused:5000>");
  EXPECT_EQ(t.TokenId("Ġthe"), 258);
  EXPECT_EQ(t.TokenId("<eos>"), 300);
  EXPECT_EQ(t.TokenId("nope"), std::nullopt);
  EXPECT_EQ(t.TokenText(32), "Ġ");
  EXPECT_EQ(t.TokenText(299), "");
  EXPECT_TRUE(t.IsSpecial(300));
  EXPECT_FALSE(t.IsSpecial(258));
  ASSERT_EQ(t.added_tokens().size(), 1u);
  EXPECT_EQ(t.added_tokens()[0].content, "<eos>");
  EXPECT_TRUE(t.template_prefix().empty());
}

// ---- refusals ----

struct BadCase {
  std::string name;
  std::function<void(Parts*)> edit;
  std::string message;  // a substring of the error
};

std::vector<BadCase> BadCases() {
  const auto pre = [](int i, const std::string& key, Json v) {
    return [=](Parts* p) { p->pre_steps[i].Set(key, v); };
  };
  const auto model = [](const std::string& key, Json v) {
    return [=](Parts* p) { p->model.Set(key, v); };
  };
  return {
      {"UnknownPreTokenizer", pre(2, "type", Json::String("Metaspace")),
       "t.json: pre_tokenizer.pretokenizers[2].type: unsupported \"Metaspace\""},
      {"BadRegex", [](Parts* p) { p->pre_steps[0] = SplitStep("(unclosed"); },
       "t.json: pre_tokenizer.pretokenizers[0].pattern.Regex: pattern does not compile"},
      {"BadBehavior", pre(1, "behavior", Json::String("Sideways")),
       "pre_tokenizer.pretokenizers[1].behavior: unsupported \"Sideways\""},
      {"ByteLevelNotLast", [](Parts* p) { std::swap(p->pre_steps[0], p->pre_steps[3]); },
       "pre_tokenizer: needs exactly one ByteLevel step, as the last step"},
      {"NoByteLevel", [](Parts* p) { p->pre_steps.pop_back(); }, "needs exactly one ByteLevel"},
      {"ModelType", model("type", Json::String("WordPiece")),
       "t.json: model.type: unsupported \"WordPiece\""},
      {"ByteFallback", model("byte_fallback", Json::Bool(true)),
       "model.byte_fallback: unsupported true"},
      {"Dropout", model("dropout", Json::Number(0.1)), "model.dropout: unsupported 0.1"},
      {"SubwordPrefix", model("continuing_subword_prefix", Json::String("##")),
       "model.continuing_subword_prefix: unsupported \"##\""},
      {"DuplicateId", [](Parts* p) { p->vocab.Set("zz", Json::Int(7)); },
       "model.vocab[\"zz\"]: id 7 is already \"ć\"'s"},
      {"IdNotInteger", [](Parts* p) { p->vocab.Set("zz", Json::String("7")); },
       "model.vocab[\"zz\"]: expected an integer, got a string"},
      {"IdTooLarge", [](Parts* p) { p->vocab.Set("zz", Json::Int(1 << 30)); },
       "model.vocab[\"zz\"]: 1073741824 is outside [0, 1048575]"},
      {"MissingByte",
       [](Parts* p) {
         Json v = Json::Object();
         for (const auto& [k, x] : p->vocab.object()) {
           if (k != "Ā") v.Set(k, x);  // byte 0
         }
         p->vocab = v;
       },
       "model.vocab: no token for byte 0 (\"Ā\")"},
      {"MergeUnknownToken", [](Parts* p) { p->merges.Push(Json::String("zz q")); },
       "model.merges[6]: \"zz\" is not in model.vocab"},
      {"MergeResultMissing", [](Parts* p) { p->merges.Push(Json::String("q q")); },
       "model.merges[6]: the merge result \"qq\" is not in model.vocab"},
      {"MergeMalformed", [](Parts* p) { p->merges.Push(Json::Int(3)); },
       "model.merges[6]: expected \"left right\" or [\"left\", \"right\"]"},
      {"MergeNoSpace", [](Parts* p) { p->merges.Push(Json::String("qq")); },
       "model.merges[6]: expected \"left right\""},
      {"MissingMerges", [](Parts* p) { p->merges = Json(); },
       "model.merges: expected an array, got null"},
      {"Normalizer",
       [](Parts* p) {
         p->root_extra.push_back({"normalizer", Typed("NFC")});
       },
       "t.json: normalizer.type: unsupported \"NFC\""},
      {"Decoder", [](Parts* p) { p->decoder = Typed("Metaspace"); },
       "decoder.type: unsupported \"Metaspace\""},
      {"NullDecoder", [](Parts* p) { p->decoder = Json(); }, "decoder: null"},
      {"PostProcessor",
       [](Parts* p) {
         p->root_extra.push_back({"post_processor", Typed("BertProcessing")});
       },
       "post_processor.type: unsupported \"BertProcessing\""},
      {"Truncation",
       [](Parts* p) {
         p->root_extra.push_back({"truncation", Json::Object()});
       },
       "truncation: unsupported {} (must be null"},
      {"SingleWord",
       [](Parts* p) {
         Json t = p->added.array()[0];
         t.Set("single_word", Json::Bool(true));
         p->added = Json::Array({t});
       },
       "added_tokens[0].single_word: unsupported true"},
      {"AddedIdTaken",
       [](Parts* p) {
         Json t = p->added.array()[0];
         t.Set("id", Json::Int(65));
         p->added = Json::Array({t});
       },
       "added_tokens[0]: id 65 is already \"A\"'s"},
      {"AddedDisagreesWithVocab",
       [](Parts* p) {
         Json t = p->added.array()[0];
         t.Set("content", Json::String("Ġthe"));
         p->added = Json::Array({t});
       },
       "added_tokens[0]: \"Ġthe\" has id 300 here but 258 in model.vocab"},
      {"AddedTwice", [](Parts* p) { p->added.Push(p->added.array()[0]); },
       "added_tokens[1]: \"<eos>\" is also added_tokens[0]"},
      {"AddedNoContent",
       [](Parts* p) {
         Json t = Json::Object();
         t.Set("id", Json::Int(301));
         p->added.Push(t);
       },
       "added_tokens[1]: missing field \"content\""},
  };
}

TEST(BpeTokenizer, RefusesWhatItDoesNotImplementNamingTheField) {
  ASSERT_OK(BpeTokenizer::FromJson(Parts().Assemble(), "t.json"));
  for (const BadCase& c : BadCases()) {
    Parts p;
    c.edit(&p);
    absl::StatusOr<BpeTokenizer> t = BpeTokenizer::FromJson(p.Assemble(), "t.json");
    ASSERT_FALSE(t.ok()) << c.name;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(std::string(t.status().message()), HasSubstr(c.message)) << c.name;
  }
}

TEST(BpeTokenizer, RefusesBrokenFiles) {
  const std::string good = Parts().Assemble();
  auto truncated = BpeTokenizer::FromJson(good.substr(0, good.size() / 2), "cut.json");
  ASSERT_FALSE(truncated.ok());
  EXPECT_THAT(std::string(truncated.status().message()),
              HasSubstr("cut.json: JSON line 1, column"));
  auto not_object = BpeTokenizer::FromJson("[1]", "t.json");
  EXPECT_THAT(std::string(not_object.status().message()),
              HasSubstr("t.json: expected an object, got an array"));
  auto no_model = BpeTokenizer::FromJson("{}", "t.json");
  EXPECT_THAT(std::string(no_model.status().message()),
              HasSubstr("t.json: missing field \"model\""));
  EXPECT_EQ(BpeTokenizer::FromFile("/nonexistent/tokenizer.json").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(BpeTokenizer::FromFile("/").status().code(), absl::StatusCode::kInvalidArgument);
}

// ---- merges, random input, threads, long input ----

TEST(BpeMerges, FastLoopsEqualTheReference) {
  // Random merges over a 4-letter alphabet make long merge chains and many overlapping pairs.
  std::mt19937 rng(7);
  bpe::MergeTable table;
  int next_id = 4;
  std::vector<int> ids = {0, 1, 2, 3};
  for (int rank = 0; rank < 300; ++rank) {
    const int l = ids[rng() % ids.size()], r = ids[rng() % ids.size()];
    table.Add(l, r, next_id, rank);
    ids.push_back(next_id++);
  }
  for (int trial = 0; trial < 3000; ++trial) {
    const int n = trial % 3 == 0 ? int(rng() % 400) : int(rng() % 70);
    std::vector<int32_t> word(n);
    for (int32_t& x : word) x = rng() % 4;
    std::vector<int32_t> fast = word, ref = word;
    table.Merge(&fast);
    table.MergeReference(&ref);
    ASSERT_EQ(fast, ref) << "trial " << trial << " n " << n;
  }
}

TEST(BpeTokenizer, RandomBytesRoundTripAsSanitizedText) {
  const BpeTokenizer t = Small();
  std::mt19937 rng(11);
  const std::vector<std::string> pool = {"a",
                                         "aa",
                                         " ",
                                         "\n",
                                         "\r\n",
                                         "\t",
                                         "1",
                                         "<eos>",
                                         "<e",
                                         "é",
                                         "中文",
                                         "カ",
                                         "👨‍👩‍👧",
                                         "\xff",
                                         "\xc3",
                                         "\xe2\x82",
                                         "\xed\xa0\x80",
                                         "\u0301",
                                         "\u00a0",
                                         "!?",
                                         "the"};
  for (int trial = 0; trial < 3000; ++trial) {
    std::string s;
    const int n = rng() % 60;
    for (int i = 0; i < n; ++i) {
      if (trial % 2) {
        s.push_back(char(rng() % 256));
      } else {
        s += pool[rng() % pool.size()];
      }
    }
    const std::string clean = SanitizeUtf8(s);
    const std::vector<int32_t> ids = t.Encode(s);
    ASSERT_EQ(t.Decode(ids), clean) << absl::CHexEscape(s);
    ASSERT_EQ(t.Encode(clean), ids) << absl::CHexEscape(s);
    for (int32_t id : ids) ASSERT_FALSE(t.IsSpecial(id)) << absl::CHexEscape(s);
    ASSERT_EQ(t.Decode(t.EncodeWithSpecials(s)), clean) << absl::CHexEscape(s);
  }
  std::vector<int32_t> junk(500);
  for (int32_t& id : junk) id = int32_t(rng());
  EXPECT_FALSE(t.Decode(junk).empty());  // never crashes; unknown ids read "<unused:ID>"
}

TEST(BpeTokenizer, ConcurrentEncodesAgreeWithUncached) {
  const BpeTokenizer shared = Small(/*cache_entries=*/64);  // tiny: shards are emptied often
  const BpeTokenizer uncached = Small(/*cache_entries=*/0);
  std::vector<std::string> texts;
  std::mt19937 rng(3);
  for (int i = 0; i < 200; ++i) {
    std::string s;
    for (int w = 0; w < 20; ++w) absl::StrAppend(&s, " the", rng() % 1000, "aa", rng() % 7, "\n");
    texts.push_back(s);
  }
  std::vector<std::vector<int32_t>> want;
  for (const std::string& s : texts) want.push_back(uncached.Encode(s));
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int round = 0; round < 5; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) {
          const size_t j = (i * 7 + k) % texts.size();
          if (shared.Encode(texts[j]) != want[j]) ++mismatches;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_LE(shared.cache_size(), 64u);
  EXPECT_EQ(uncached.cache_size(), 0u);
}

TEST(BpeTokenizer, LongRunOfOneLetterIsFast) {
  const BpeTokenizer t = Small();
  const std::string s(400001, 'a');  // one pre-token for DeepSeek's pattern
  const auto start = std::chrono::steady_clock::now();
  const std::vector<int32_t> ids = t.Encode(s);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(ids.size(), 100001u);
  EXPECT_EQ(ids.front(), 260);
  EXPECT_EQ(ids.back(), 'a');
  EXPECT_EQ(t.Decode(ids), s);
  EXPECT_LT(seconds, 2.0);  // the heap loop; the quadratic one takes minutes
  const std::string spaces(200000, ' ');
  EXPECT_EQ(t.Decode(t.Encode(spaces + "x" + spaces)), spaces + "x" + spaces);
}

}  // namespace
}  // namespace dsarl::model
