#include "model/checkpoint.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "model/hf_tokenizer_files.h"
#include "model/memory_estimate.h"
#include "model/safetensors.h"
#include "model/tokenizer.h"

namespace dsarl::model {
namespace {

std::string ShapeString(const std::vector<int64_t>& s) {
  return absl::StrCat("[", absl::StrJoin(s, ", "), "]");
}

std::vector<TensorToWrite> TensorsOf(const Transformer& model) {
  std::vector<TensorToWrite> out;
  for (const TensorInfo& t : model.table().tensors()) {
    out.push_back(TensorToWrite{t.name, Dtype::kF32, t.shape, model.params() + t.offset});
  }
  return out;
}

// InvalidArgument naming the tensor when `values` holds a NaN or an infinity: weights like that
// make every log-prob NaN, so a diverged or corrupt checkpoint is refused where it is read instead
// of being scored, sampled from or trained.
absl::Status CheckFinite(const std::string& source, const std::string& name,
                         absl::Span<const float> values) {
  float probe = 0;  // x * 0 is NaN exactly for a NaN or an infinity; the sum keeps it
  for (float v : values) probe += v * 0.0f;
  if (probe == 0) return absl::OkStatus();
  size_t bad = 0, first = values.size();
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isfinite(values[i])) continue;
    if (bad++ == 0) first = i;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      source, ": tensor ", name, " has ", bad, " non-finite value(s) (the first, at index ", first,
      ", is ", values[first], "): the weights are unusable (a diverged run or a corrupt file)"));
}

// Validates every tensor before copying any, so a bad file leaves `model` untouched.
absl::Status LoadTensors(const SafetensorsFile& file, Transformer* model) {
  const ParamTable& table = model->table();
  for (const TensorInfo& t : table.tensors()) {
    const SafetensorsTensorInfo* info = file.Find(t.name);
    if (info == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.source(), ": tensor ", t.name, " is missing"));
    }
    if (info->shape != t.shape) {
      return absl::InvalidArgumentError(absl::StrCat(file.source(), ": tensor ", t.name,
                                                     " has shape ", ShapeString(info->shape),
                                                     ", the model expects ", ShapeString(t.shape)));
    }
    if (info->dtype != Dtype::kF32 && info->dtype != Dtype::kBF16 && info->dtype != Dtype::kF16 &&
        info->dtype != Dtype::kF64) {
      return absl::InvalidArgumentError(absl::StrCat(file.source(), ": tensor ", t.name,
                                                     " has dtype ", DtypeName(info->dtype),
                                                     "; expected a floating-point type"));
    }
  }
  for (const SafetensorsTensorInfo& info : file.tensors()) {
    if (table.Find(info.name) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(file.source(), ": tensor ", info.name,
                                                     " is not part of this model's configuration"));
    }
  }
  // Checked before anything is written, so a bad image leaves the model as it was.
  std::vector<float> scratch;
  for (const TensorInfo& t : table.tensors()) {
    scratch.resize(t.numel);
    RETURN_IF_ERROR(file.ReadFloat32Into(t.name, absl::MakeSpan(scratch)));
    RETURN_IF_ERROR(CheckFinite(file.source(), t.name, scratch));
  }
  for (const TensorInfo& t : table.tensors()) {
    RETURN_IF_ERROR(
        file.ReadFloat32Into(t.name, absl::Span<float>(model->params() + t.offset, t.numel)));
  }
  return absl::OkStatus();
}

// Writes `text` to PATH.tmp and renames it over PATH, so PATH is always whole.
absl::Status WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return absl::InternalError(absl::StrCat(tmp, ": write failed (disk full?)"));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat(path, ": rename failed: ", ec.message()));
  return absl::OkStatus();
}

}  // namespace

absl::Status SaveCheckpoint(const std::string& dir, const Transformer& model,
                            const std::map<std::string, std::string>& metadata,
                            const Tokenizer& tokenizer) {
  if (tokenizer.size() > model.dims().vocab) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir, ": the tokenizer ", tokenizer.name(), " has ", tokenizer.size(),
                     " tokens, more than the model's vocab_size ", model.dims().vocab));
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return absl::InternalError(absl::StrCat(dir, ": cannot create directory: ", ec.message()));
  SafetensorsMetadata meta(metadata.begin(), metadata.end());
  meta["format"] = "pt";
  RETURN_IF_ERROR(WriteSafetensors(dir + "/model.safetensors", TensorsOf(model), meta));
  // config.json last: a directory with a config.json is a complete checkpoint.
  const ChatTokenIds& chat = tokenizer.chat();
  const ConfigTokenIds ids{chat.bos, chat.eos, chat.pad};
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/generation_config.json",
                                      GenerationConfigJson(ids).Dump(2) + "\n"));
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/tokenizer.json", tokenizer.HfJson()));
  RETURN_IF_ERROR(WriteFileAtomically(
      dir + "/tokenizer_config.json",
      TokenizerConfigJson(tokenizer.TokenText(ids.bos), tokenizer.TokenText(ids.eos),
                          tokenizer.TokenText(ids.pad), model.dims().max_pos)
              .Dump(2) +
          "\n"));
  return WriteFileAtomically(dir + "/config.json", ConfigJson(model.dims(), ids).Dump(2) + "\n");
}

absl::StatusOr<ModelDims> ReadCheckpointDims(const std::string& dir) {
  const std::string cfg_path = dir + "/config.json";
  ASSIGN_OR_RETURN(std::string text, ReadFileBounded(cfg_path, kMaxTextFileBytes, "config.json"));
  auto json = ParseJson(text);
  if (!json.ok()) return Annotate(json.status(), cfg_path);
  return DimsFromConfigJson(*json, cfg_path);
}

absl::StatusOr<std::unique_ptr<Transformer>> LoadCheckpoint(const std::string& dir) {
  const std::string cfg_path = dir + "/config.json";
  ASSIGN_OR_RETURN(ModelDims dims, ReadCheckpointDims(dir));
  // The weights and the file image at once, checked before either is allocated.
  RETURN_IF_ERROR(CheckFitsInMemory(
      2 * ParameterBytes(dims),
      absl::StrCat(cfg_path, ": loading a model of ", ParameterCount(dims), " parameters")));
  ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(dir + "/model.safetensors"));
  auto model = std::make_unique<Transformer>(dims);
  RETURN_IF_ERROR(LoadTensors(file, model.get()));
  return model;
}

absl::StatusOr<std::string> SerializeWeights(const Transformer& model,
                                             const std::map<std::string, std::string>& metadata) {
  SafetensorsMetadata meta(metadata.begin(), metadata.end());
  return SerializeSafetensors(TensorsOf(model), meta);
}

absl::Status DeserializeWeightsInto(std::string bytes, const std::string& source,
                                    Transformer* model) {
  ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::FromBytes(std::move(bytes), source));
  return LoadTensors(file, model);
}

}  // namespace dsarl::model
