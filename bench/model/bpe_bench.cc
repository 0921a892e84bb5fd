// BpeTokenizer throughput in MB/s of input text, on the ~1 MB mixed corpus (English, code, CJK,
// Japanese, emoji, numbers, whitespace runs, chat markup) that tests/model/bpe_reference.py
// writes, with the DeepSeek-V3-like and the GPT-2-like tokenizers it trains. After the runs the
// same corpus goes through Hugging Face `tokenizers` (bench/model/bpe_reference_bench.py, one
// thread) and its MB/s are printed below ours.
//
// Run: build/bench/model/bpe_bench [--benchmark_filter=...]. Needs python3 with `tokenizers`
// (for the corpus and tokenizer.json files); DSARL_BPE_BENCH_DIR=<dir> reuses a dir made before.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/file.h"
#include "benchmark/benchmark.h"
#include "model/bpe_tokenizer.h"

namespace dsarl::model {
namespace {

struct BenchData {
  std::string dir;
  std::string corpus;
  std::vector<std::string> lines;  // the corpus cut after each '\n'
  size_t lines_bytes = 0;
};

BenchData& Data() {
  static BenchData data;
  return data;
}

BpeTokenizer Load(const std::string& name, int cache_entries) {
  auto tok = BpeTokenizer::FromFile(Data().dir + "/" + name + ".json", {cache_entries});
  if (!tok.ok()) {
    std::cerr << tok.status() << "\n";
    std::exit(1);
  }
  return *std::move(tok);
}

void SetRate(benchmark::State& state, size_t bytes) {
  state.counters["MB/s"] =
      benchmark::Counter(double(bytes) * state.iterations() / 1e6, benchmark::Counter::kIsRate);
}

// Encode, or EncodeWithSpecials; one call per line, or one for the whole corpus.
void BM_Encode(benchmark::State& state, const std::string& name, bool specials, bool per_line,
               int cache_entries) {
  const BpeTokenizer tok = Load(name, cache_entries);
  const auto encode = [&](absl::string_view s) {
    return specials ? tok.EncodeWithSpecials(s) : tok.Encode(s);
  };
  size_t n_ids = 0;
  for (auto _ : state) {
    n_ids = 0;
    if (per_line) {
      for (const std::string& line : Data().lines) n_ids += encode(line).size();
    } else {
      n_ids = encode(Data().corpus).size();
    }
    benchmark::DoNotOptimize(n_ids);
  }
  const size_t bytes = per_line ? Data().lines_bytes : Data().corpus.size();
  SetRate(state, bytes);
  state.counters["bytes/token"] = double(bytes) / double(n_ids);
}

void BM_Decode(benchmark::State& state, const std::string& name) {
  const BpeTokenizer tok = Load(name, 1 << 16);
  const std::vector<int32_t> ids = tok.EncodeWithSpecials(Data().corpus);
  for (auto _ : state) benchmark::DoNotOptimize(tok.Decode(ids));
  SetRate(state, Data().corpus.size());
}

void BM_Load(benchmark::State& state, const std::string& name) {
  for (auto _ : state) benchmark::DoNotOptimize(Load(name, 1 << 16));
}

void Register() {
  for (const std::string name : {"deepseek", "gpt2"}) {
    for (const bool specials : {false, true}) {
      for (const bool per_line : {false, true}) {
        const std::string label = absl::StrCat(name, per_line ? "/lines" : "/document",
                                               specials ? "/with_specials" : "/plain");
        benchmark::RegisterBenchmark(("BM_Encode/" + label).c_str(), BM_Encode, name, specials,
                                     per_line, 1 << 16)
            ->Unit(benchmark::kMillisecond)
            ->MinTime(1.0);
      }
    }
    benchmark::RegisterBenchmark(("BM_Encode/" + name + "/document/plain/no_cache").c_str(),
                                 BM_Encode, name, false, false, 0)
        ->Unit(benchmark::kMillisecond)
        ->MinTime(1.0);
    benchmark::RegisterBenchmark(("BM_Decode/" + name).c_str(), BM_Decode, name)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("BM_Load/" + name).c_str(), BM_Load, name)
        ->Unit(benchmark::kMillisecond);
  }
}

bool Prepare() {
  BenchData& d = Data();
  if (const char* dir = std::getenv("DSARL_BPE_BENCH_DIR")) {
    d.dir = dir;
  } else {
    d.dir = absl::StrCat(std::filesystem::temp_directory_path().string(), "/dsarl_bpe_bench_",
                         getpid());
    const std::string cmd = absl::StrCat("python3 ", DSARL_SOURCE_DIR,
                                         "/tests/model/bpe_reference.py --corpus ", d.dir);
    if (std::system(cmd.c_str()) != 0) {
      std::cerr << "failed: " << cmd << " (needs python3 with the tokenizers package)\n";
      return false;
    }
  }
  auto corpus = ReadFileBounded(d.dir + "/bench_corpus.txt", 64 << 20, "corpus");
  if (!corpus.ok()) {
    std::cerr << corpus.status() << "\n";
    return false;
  }
  d.corpus = *std::move(corpus);
  for (absl::string_view line : absl::StrSplit(d.corpus, '\n', absl::SkipEmpty())) {
    d.lines.push_back(absl::StrCat(line, "\n"));
    d.lines_bytes += d.lines.back().size();
  }
  return true;
}

void RunReference() {
  const std::string cmd = absl::StrCat("python3 ", DSARL_SOURCE_DIR,
                                       "/bench/model/bpe_reference_bench.py ", Data().dir);
  std::cout << "\nHugging Face tokenizers (1 thread), same corpus, MB/s:\n" << std::flush;
  if (std::system(cmd.c_str()) != 0) std::cerr << "failed: " << cmd << "\n";
}

}  // namespace
}  // namespace dsarl::model

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (!dsarl::model::Prepare()) return 1;
  std::cout << "corpus: " << dsarl::model::Data().corpus.size() << " bytes, "
            << dsarl::model::Data().lines.size() << " lines\n";
  dsarl::model::Register();
  benchmark::RunSpecifiedBenchmarks();
  dsarl::model::RunReference();
  benchmark::Shutdown();
  if (std::getenv("DSARL_BPE_BENCH_DIR") == nullptr) {
    std::filesystem::remove_all(dsarl::model::Data().dir);
  }
  return 0;
}
