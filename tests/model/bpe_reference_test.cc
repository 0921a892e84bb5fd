// BpeTokenizer against Hugging Face `tokenizers`: tests/model/bpe_reference.py trains small
// byte-level BPEs (DeepSeek-V3-like, GPT-2-like, Llama-3-like with ignore_merges, and one per
// split behaviour) and writes what `tokenizers` gives for a few hundred strings, some not valid
// UTF-8: pre-tokens, ids with and without added tokens, decodes, and which code points each
// regex class holds. Skips without the Python package (fails in CI).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <memory>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/crc32c.h"
#include "base/file.h"
#include "base/json.h"
#include "base/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/bpe_json_field.h"
#include "model/bpe_pretokenizer.h"
#include "model/bpe_tokenizer.h"
#include "tests/prerequisite.h"
#include "tests/status_matchers.h"

namespace dsarl::model {
namespace {

using ::testing::ElementsAre;

// The `tokenizers` version, or "" when python3 cannot import it.
std::string TokenizersVersion() {
  static const std::string version = [] {
    std::string out;
    FILE* pipe = popen(
        "python3 -c 'import sys, tokenizers; sys.stdout.write(tokenizers.__version__)' "
        "2>/dev/null",
        "r");
    if (pipe == nullptr) return out;
    char buf[128];
    while (fgets(buf, sizeof(buf), pipe) != nullptr) out += buf;
    return pclose(pipe) == 0 ? out : std::string();
  }();
  return version;
}

bool HavePythonTokenizers() { return !TokenizersVersion().empty(); }

struct ReferenceData {
  std::string dir;  // holds <name>.json for every tokenizer
  Json expected;    // expected.json: per tokenizer, what `tokenizers` gives
  Json classes;     // classes.json: code points each one-character pattern matches in Oniguruma
};

// bpe_reference.py's output for this script and `tokenizers` version, made once per build tree:
// CTest runs every test in its own process (and each twice), and the script takes seconds. A
// process writes into a directory of its own and renames it into place, so concurrent runs never
// read a half-written one. "" (with the failure logged) if the script fails.
std::string ReferenceDir() {
  const std::string script = absl::StrCat(DSARL_SOURCE_DIR, "/tests/model/bpe_reference.py");
  absl::StatusOr<std::string> text = ReadFileBounded(script, 1 << 20, "bpe_reference.py");
  if (!text.ok()) {
    ADD_FAILURE() << text.status();
    return "";
  }
  const std::string dir = absl::StrCat(DSARL_BINARY_DIR, "/tests/model/bpe_reference/",
                                       TokenizersVersion(), "_", absl::Hex(Crc32c(*text)));
  if (std::filesystem::exists(dir)) return dir;
  const std::string tmp = absl::StrCat(dir, ".tmp", getpid());
  std::filesystem::remove_all(tmp);
  const std::string cmd = absl::StrCat("python3 ", script, " ", tmp, " 2>&1");
  if (std::system(cmd.c_str()) != 0) {
    ADD_FAILURE() << "failed: " << cmd;
    return "";
  }
  std::error_code ec;
  std::filesystem::rename(tmp, dir, ec);  // fails when another process was first: use its copy
  std::filesystem::remove_all(tmp, ec);
  return dir;
}

// nullptr (with the failure logged) if the reference cannot be made or read.
const ReferenceData* Reference() {
  static const std::unique_ptr<const ReferenceData> reference =
      []() -> std::unique_ptr<const ReferenceData> {
    auto data = std::make_unique<ReferenceData>();
    data->dir = ReferenceDir();
    if (data->dir.empty()) return nullptr;
    for (auto [name, out] :
         {std::pair("expected.json", &data->expected), std::pair("classes.json", &data->classes)}) {
      absl::StatusOr<std::string> text = ReadFileBounded(data->dir + "/" + name, 256 << 20, name);
      absl::StatusOr<Json> json = text.ok() ? ParseJson(*text) : text.status();
      if (!json.ok()) {
        ADD_FAILURE() << json.status();
        return nullptr;
      }
      *out = *std::move(json);
    }
    return data;
  }();
  return reference.get();
}

std::vector<int32_t> Ids(const Json* j) {
  std::vector<int32_t> ids;
  if (j != nullptr) {
    for (const Json& x : j->array()) ids.push_back(int32_t(x.int_value()));
  }
  return ids;
}

std::string Unhex(const Json* j) {
  return j == nullptr ? "" : absl::HexStringToBytes(j->string_value());
}

// Our pre-tokens of `text`, in byte-level form as `tokenizers` prints them.
std::vector<std::string> OurPieces(const bpe::PreTokenizer& pre, const std::string& text) {
  bpe::PreTokens pieces;
  pre.Split(text, &pieces);
  std::vector<std::string> out;
  for (const bpe::Span& s : pieces.spans()) out.push_back(bpe::ByteLevelEncode(pieces.piece(s)));
  return out;
}

class BpeReferenceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BpeReferenceTest, MatchesHuggingFaceTokenizers) {
  DSARL_REQUIRE(HavePythonTokenizers(),
                "the Python package tokenizers for python3 (pip install tokenizers)");
  const ReferenceData* reference = Reference();
  ASSERT_NE(reference, nullptr);
  const Json* expected = reference->expected.Find(GetParam());
  ASSERT_NE(expected, nullptr) << GetParam();
  const std::string path = absl::StrCat(reference->dir, "/", GetParam(), ".json");
  ASSERT_OK_AND_ASSIGN(const BpeTokenizer tok, BpeTokenizer::FromFile(path));
  ASSERT_OK_AND_ASSIGN(const std::string json_text, ReadFileBounded(path, 1 << 26, "json"));
  ASSERT_OK_AND_ASSIGN(const Json json, ParseJson(json_text));
  ASSERT_OK_AND_ASSIGN(const bpe::PreTokenizer pre,
                       bpe::PreTokenizer::FromJson(
                           bpe::JsonField(*json.Find("pre_tokenizer"), path, "pre_tokenizer")));
  EXPECT_EQ(tok.vocab_size(), expected->Find("vocab_size")->int_value());
  for (const auto& [content, id] : expected->Find("specials")->object()) {
    EXPECT_EQ(tok.TokenId(content), id.int_value()) << content;
    EXPECT_TRUE(tok.IsSpecial(int32_t(id.int_value()))) << content;
    EXPECT_EQ(tok.TokenText(int32_t(id.int_value())), content);
  }
  std::vector<int32_t> with_template = tok.template_prefix();
  for (int32_t id : tok.EncodeWithSpecials("hi")) with_template.push_back(id);
  for (int32_t id : tok.template_suffix()) with_template.push_back(id);
  EXPECT_EQ(with_template, Ids(expected->Find("with_template")));
  const bool round_trips = expected->Find("round_trips")->bool_value();
  int compared_plain = 0;
  for (const Json& c : expected->Find("cases")->array()) {
    const std::string raw = Unhex(c.Find("hex")), clean = Unhex(c.Find("sanitized_hex"));
    const std::string what = absl::StrCat(GetParam(), ": \"", absl::CHexEscape(raw), "\"");
    std::vector<std::string> want_pieces;
    for (const Json& p : c.Find("pieces")->array()) want_pieces.push_back(p.string_value());
    ASSERT_EQ(OurPieces(pre, clean), want_pieces) << what;
    const std::vector<int32_t> with_specials = tok.EncodeWithSpecials(raw);
    ASSERT_EQ(with_specials, Ids(c.Find("with_specials"))) << what;
    EXPECT_EQ(tok.Decode(with_specials), c.Find("decode")->string_value()) << what;
    const std::vector<int32_t> plain = tok.Encode(raw);
    if (const Json* want = c.Find("encode")) {
      ASSERT_EQ(plain, Ids(want)) << what;
      EXPECT_EQ(tok.Decode(plain), c.Find("decode_encode")->string_value()) << what;
      ++compared_plain;
    }
    // A prefix space (add_prefix_space) is text Encode adds; without one, bytes come back.
    if (round_trips) {
      EXPECT_EQ(tok.Decode(plain), clean) << what;
    }
  }
  EXPECT_GT(compared_plain, 100);
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, BpeReferenceTest,
                         ::testing::Values("deepseek", "deepseek_legacy_merges", "gpt2",
                                           "llama3_ignore_merges", "split_removed",
                                           "split_merged_prev", "split_merged_next",
                                           "split_contiguous", "split_inverted", "split_string",
                                           "split_digits", "split_digit_runs"));

TEST(BpeReference, SpecialTextInEncodeStaysOrdinaryBytes) {
  DSARL_REQUIRE(HavePythonTokenizers(),
                "the Python package tokenizers for python3 (pip install tokenizers)");
  const ReferenceData* reference = Reference();
  ASSERT_NE(reference, nullptr);
  ASSERT_OK_AND_ASSIGN(const BpeTokenizer tok,
                       BpeTokenizer::FromFile(reference->dir + "/deepseek.json"));
  ASSERT_GE(tok.added_tokens().size(), 21u);
  std::string all;
  for (const BpeAddedToken& t : tok.added_tokens()) {
    EXPECT_TRUE(t.special) << t.content;
    EXPECT_THAT(tok.EncodeWithSpecials(t.content), ElementsAre(t.id)) << t.content;
    const std::vector<int32_t> ids = tok.Encode(t.content);
    EXPECT_GT(ids.size(), 1u) << t.content;
    for (int32_t id : ids) EXPECT_FALSE(tok.IsSpecial(id)) << t.content;
    EXPECT_EQ(tok.Decode(ids), t.content);
    all += t.content;
  }
  EXPECT_EQ(tok.EncodeWithSpecials(all).size(), tok.added_tokens().size());
  EXPECT_EQ(tok.Decode(tok.Encode(all)), all);
  EXPECT_THAT(tok.template_prefix(), ElementsAre(*tok.TokenId("<｜begin▁of▁sentence｜>")));
}

// The code points `pattern` matches in `text` (one-character matches), by cp_at[byte offset].
std::set<char32_t> Matched(absl::string_view pattern, const std::string& text,
                           const std::vector<char32_t>& cp_at) {
  std::set<char32_t> out;
  absl::StatusOr<std::shared_ptr<const bpe::Regex>> regex = bpe::Regex::Compile(pattern, false);
  EXPECT_OK(regex);
  if (!regex.ok()) return out;
  std::vector<std::pair<size_t, size_t>> matches;
  bpe::Regex::MatchData md;
  (*regex)->FindAll(text, &md, &matches);
  for (const auto& m : matches) out.insert(cp_at[m.first]);
  return out;
}

// PCRE2 (through OnigToPcre2) and Oniguruma must put every code point in the same classes, or
// pre-tokens differ on text that holds it. Exempt: code points PCRE2's Unicode tables (older than
// Oniguruma's in `tokenizers`) do not assign yet; the test says how many.
TEST(BpeReference, CharacterClassesMatchOniguruma) {
  DSARL_REQUIRE(HavePythonTokenizers(),
                "the Python package tokenizers for python3 (pip install tokenizers)");
  const ReferenceData* reference = Reference();
  ASSERT_NE(reference, nullptr);
  std::string text;
  std::vector<char32_t> cp_at;  // by byte offset in `text`
  for (const Json& range : reference->classes.Find("sweep")->array()) {
    for (int64_t cp = range.array()[0].int_value(); cp <= range.array()[1].int_value(); ++cp) {
      const size_t at = text.size();
      AppendUtf8(uint32_t(cp), &text);
      cp_at.resize(text.size());
      cp_at[at] = char32_t(cp);
    }
  }
  const std::set<char32_t> unassigned = Matched(R"(\p{Cn})", text, cp_at);
  for (const auto& [pattern, want] : reference->classes.Find("classes")->object()) {
    const std::set<char32_t> ours = Matched(pattern, text, cp_at);
    std::set<char32_t> theirs;
    for (const Json& r : want.array()) {
      for (int64_t cp = r.array()[0].int_value(); cp <= r.array()[1].int_value(); ++cp) {
        theirs.insert(char32_t(cp));
      }
    }
    std::vector<char32_t> differ;
    std::set_symmetric_difference(ours.begin(), ours.end(), theirs.begin(), theirs.end(),
                                  std::back_inserter(differ));
    int exempt = 0;
    std::string shown;
    for (char32_t cp : differ) {
      if (unassigned.count(cp)) {
        ++exempt;
      } else if (shown.size() < 200) {
        absl::StrAppend(&shown, " U+", absl::Hex(uint32_t(cp), absl::kZeroPad4),
                        ours.count(cp) ? "(ours)" : "(theirs)");
      }
    }
    EXPECT_TRUE(shown.empty()) << pattern << " (as PCRE2: " << bpe::OnigToPcre2(pattern)
                               << ") differs at" << shown;
    if (exempt > 0) {
      std::cout << pattern << ": " << exempt
                << " code points differ that PCRE2's Unicode tables do not assign\n";
    }
  }
}

}  // namespace
}  // namespace dsarl::model
