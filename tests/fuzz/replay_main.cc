// A main for the fuzz targets where libFuzzer is not linked (GCC, CI): runs LLVMFuzzerTestOneInput
// once on every file named on the command line, and on every file under every folder named there,
// so the seed corpus and every crash reproducer kept in it are checked by a plain build. A crash
// aborts the run with the sanitizers' or the harness's message; the file being run is printed
// first so the failing input is named.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// The regular files at `arg` (itself, or the files below it, sorted); false when it is missing.
bool CollectInputs(const std::filesystem::path& arg, std::vector<std::filesystem::path>* out) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(arg, ec)) {
    out->push_back(arg);
    return true;
  }
  if (!std::filesystem::is_directory(arg, ec)) return false;
  std::vector<std::filesystem::path> found;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(arg, ec)) {
    if (entry.is_regular_file()) found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end());
  out->insert(out->end(), found.begin(), found.end());
  return !ec;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    if (!CollectInputs(argv[i], &inputs)) {
      std::fprintf(stderr, "%s: no such file or folder\n", argv[i]);
      return 2;
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "usage: %s FILE_OR_FOLDER...: runs every input once; none given\n",
                 argv[0]);
    return 2;
  }
  for (const std::filesystem::path& path : inputs) {
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "%s: cannot read\n", path.c_str());
      return 2;
    }
    std::fprintf(stderr, "running %s (%zu bytes)\n", path.c_str(), bytes.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("replayed %zu inputs\n", inputs.size());
  return 0;
}
