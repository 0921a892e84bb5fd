#include "proto/config_loader.h"

#include <cmath>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/reflection.h"
#include "google/protobuf/text_format.h"
#include "proto/options.pb.h"

namespace dsarl::proto {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::TextFormat;

// Collects parser errors as "file:line:col: message" (the parser's line/column are 0-based).
// For an unknown field the parser reports the column after the name; we move it to the name's
// first character, which is where a person looks.
class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  ErrorCollector(std::string filename, absl::string_view text)
      : filename_(std::move(filename)), lines_(absl::StrSplit(text, '\n')) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    static const std::string kMarker = "field named \"";
    if (size_t at = message.find(kMarker);
        at != std::string::npos && line >= 0 && line < static_cast<int>(lines_.size())) {
      size_t start = at + kMarker.size();
      std::string name = message.substr(start, message.find('"', start) - start);
      absl::string_view l = lines_[line];
      size_t pos = l.rfind(name, column);
      if (!name.empty() && pos != absl::string_view::npos) column = pos;
    }
    errors_.push_back(absl::StrCat(filename_, ":", line + 1, ":", column + 1, ": ", message));
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
    errors_.push_back(absl::StrCat(filename_, ":", line + 1, ":", column + 1, ": ", message));
  }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::string filename_;
  std::vector<absl::string_view> lines_;
  std::vector<std::string> errors_;
};

// Integral values exactly ("16777216", not "1.67772e+07"); others as StrCat writes doubles.
std::string Num(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  return absl::StrCat(v);
}

std::string FormatBounds(const FieldBounds& b) {
  std::string lo = b.has_min() ? absl::StrCat(b.min_exclusive() ? "(" : "[", Num(b.min()))
                               : std::string("(-inf");
  std::string hi = b.has_max() ? absl::StrCat(Num(b.max()), b.max_exclusive() ? ")" : "]")
                               : std::string("+inf)");
  return absl::StrCat(lo, ", ", hi);
}

bool InBounds(double v, const FieldBounds& b) {
  if (std::isnan(v)) return false;
  if (b.has_min() && (b.min_exclusive() ? v <= b.min() : v < b.min())) return false;
  if (b.has_max() && (b.max_exclusive() ? v >= b.max() : v > b.max())) return false;
  return true;
}

double NumericValue(const Message& m, const Reflection* r, const FieldDescriptor* f, int index) {
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f);
    case FieldDescriptor::CPPTYPE_INT64:
      return static_cast<double>(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f);
    case FieldDescriptor::CPPTYPE_UINT64:
      return static_cast<double>(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f);
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f);
    default:
      return 0;
  }
}

bool IsNumeric(const FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
    case FieldDescriptor::CPPTYPE_FLOAT:
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return true;
    default:
      return false;
  }
}

// Where a field was written, as "file:line:col", or `origin` when unknown.
std::string Where(const TextFormat::ParseInfoTree* tree, const FieldDescriptor* f, int index,
                  absl::string_view origin) {
  if (tree != nullptr) {
    auto loc = tree->GetLocation(f, f->is_repeated() ? index : -1);
    if (loc.line >= 0) return absl::StrCat(origin, ":", loc.line + 1, ":", loc.column + 1);
  }
  return std::string(origin);
}

// Walks `m` checking [(bounds)] and [(nonempty)] on every field; unset proto2 fields are checked at
// their default. Appends one message per violation.
void CheckBounds(const Message& m, const std::string& path, const TextFormat::ParseInfoTree* tree,
                 absl::string_view origin, std::vector<std::string>* errors) {
  const Descriptor* d = m.GetDescriptor();
  const Reflection* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const std::string fpath = path.empty() ? f->name() : absl::StrCat(path, ".", f->name());
    const auto& opts = f->options();
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_map()) continue;
      if (f->is_repeated()) {
        for (int j = 0; j < r->FieldSize(m, f); ++j) {
          CheckBounds(r->GetRepeatedMessage(m, f, j), absl::StrCat(fpath, "[", j, "]"),
                      tree ? tree->GetTreeForNested(f, j) : nullptr, origin, errors);
        }
      } else if (r->HasField(m, f)) {
        CheckBounds(r->GetMessage(m, f), fpath, tree ? tree->GetTreeForNested(f, -1) : nullptr,
                    origin, errors);
      }
      continue;
    }
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT ||
        f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
      // inf passes a bound like {min: 0} and then turns every weight into NaN; no field wants it.
      const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
      bool finite = true;
      for (int j = 0; j < n && finite; ++j) {
        const double v = NumericValue(m, r, f, j);
        if (!std::isfinite(v)) {
          errors->push_back(absl::StrCat(Where(tree, f, j, origin), ": ", fpath, ": ", v,
                                         " is not a finite number"));
          finite = false;
        }
      }
      if (!finite) continue;
    }
    if (opts.HasExtension(bounds) && IsNumeric(f)) {
      const FieldBounds& b = opts.GetExtension(bounds);
      const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
      for (int j = 0; j < n; ++j) {
        double v = NumericValue(m, r, f, j);
        if (!InBounds(v, b)) {
          errors->push_back(absl::StrCat(Where(tree, f, j, origin), ": ", fpath, ": ", Num(v),
                                         " is out of range ", FormatBounds(b)));
        }
      }
    }
    if (opts.HasExtension(nonempty) && opts.GetExtension(nonempty) &&
        f->cpp_type() == FieldDescriptor::CPPTYPE_STRING && !f->is_repeated() &&
        r->GetString(m, f).empty()) {
      errors->push_back(absl::StrCat(Where(tree, f, -1, origin), ": ", fpath,
                                     ": must be set to a non-empty string"));
    }
  }
}

// Cross-field rules that a single range cannot express.
void CheckRules(const JobConfig& c, const ConfigLocations& where,
                std::vector<std::string>* errors) {
  // Each rule's message starts with the field it blames; its location is that field's.
  auto fail = [&](const std::string& msg) {
    const std::string field = msg.substr(0, msg.find(' '));
    errors->push_back(absl::StrCat(where.Of(field), ": ", msg));
  };
  const ModelConfig& m = c.model();
  if (m.qk_rope_head_dim() % 2 != 0) fail("model.qk_rope_head_dim must be even");
  if (m.index_head_dim() < m.qk_rope_head_dim()) {
    fail(absl::StrCat("model.index_head_dim (", m.index_head_dim(),
                      ") must be at least model.qk_rope_head_dim (", m.qk_rope_head_dim(),
                      "): the indexer rotates its first qk_rope_head_dim dims"));
  }
  if (m.vocab_size() < 273) {
    fail(absl::StrCat("model.vocab_size (", m.vocab_size(),
                      ") must hold 256 bytes plus the 17 special tokens (at least 273)"));
  }
  if (m.n_routed_experts() > 0) {
    if (m.num_experts_per_tok() > m.n_routed_experts()) {
      fail("model.num_experts_per_tok must not exceed model.n_routed_experts");
    }
    // A `--set model.n_group=0` reaches here too (CheckBounds reports it): no division by zero.
    if (m.n_group() > 0 && m.n_routed_experts() % m.n_group() != 0) {
      fail("model.n_routed_experts must be a multiple of model.n_group");
    }
    if (m.topk_group() > m.n_group()) fail("model.topk_group must not exceed model.n_group");
  }
  if (m.attention_mode() == ModelConfig::ATTENTION_MODE_UNSPECIFIED) {
    fail("model.attention_mode must be DENSE, SPARSE or DENSE_WARMUP");
  }
  if (c.envs().max_difficulty() < c.envs().min_difficulty()) {
    fail("envs.max_difficulty must be >= envs.min_difficulty");
  }
  if (c.learner().kl_estimator() == LearnerConfig::KL_ESTIMATOR_UNSPECIFIED) {
    fail("learner.kl_estimator must be set");
  }
  if (c.learner().loss_aggregation() == LearnerConfig::LOSS_AGGREGATION_UNSPECIFIED) {
    fail("learner.loss_aggregation must be set");
  }
  if (!(c.learner().min_reward() < c.learner().max_reward())) {
    fail("learner.min_reward must be < learner.max_reward");
  }
}

// Records the location of every field `m` sets, under its path ("a.b[2].c").
void RecordLocations(const Message& m, const std::string& path,
                     const TextFormat::ParseInfoTree* tree, absl::string_view origin,
                     ConfigLocations* out) {
  if (tree == nullptr) return;
  const Descriptor* d = m.GetDescriptor();
  const Reflection* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const std::string fpath = path.empty() ? f->name() : absl::StrCat(path, ".", f->name());
    if (!f->is_repeated()) {
      if (!r->HasField(m, f)) continue;
      out->Record(fpath, Where(tree, f, -1, origin));
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        RecordLocations(r->GetMessage(m, f), fpath, tree->GetTreeForNested(f, -1), origin, out);
      }
      continue;
    }
    const int n = r->FieldSize(m, f);
    if (n > 0) out->Record(fpath, Where(tree, f, 0, origin));
    for (int j = 0; j < n; ++j) {
      const std::string epath = absl::StrCat(fpath, "[", j, "]");
      out->Record(epath, Where(tree, f, j, origin));
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_map()) {
        RecordLocations(r->GetRepeatedMessage(m, f, j), epath, tree->GetTreeForNested(f, j), origin,
                        out);
      }
    }
  }
}

absl::Status JoinErrors(const std::vector<std::string>& errors) {
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
}

absl::Status ValidateWithLocations(const JobConfig& config, const ConfigLocations& where) {
  std::vector<std::string> errors;
  CheckBounds(config, "", nullptr, where.origin(), &errors);
  // Bounds errors without a tree carry only the origin; give each its field's location.
  for (std::string& e : errors) {
    const std::string rest = e.substr(where.origin().size() + 2);
    e = absl::StrCat(where.Of(rest.substr(0, rest.find(':'))), ": ", rest);
  }
  CheckRules(config, where, &errors);
  return JoinErrors(errors);
}

// Splits "a.b[2].c" into components {name, index (-1 when absent)}.
struct PathPart {
  std::string name;
  int index = -1;
};

absl::StatusOr<std::vector<PathPart>> SplitPath(absl::string_view path) {
  std::vector<PathPart> parts;
  for (absl::string_view piece : absl::StrSplit(path, '.')) {
    PathPart part;
    size_t bracket = piece.find('[');
    if (bracket != absl::string_view::npos) {
      if (piece.back() != ']') return absl::InvalidArgumentError("unbalanced '[' in field path");
      absl::string_view idx = piece.substr(bracket + 1, piece.size() - bracket - 2);
      if (!absl::SimpleAtoi(idx, &part.index) || part.index < 0) {
        return absl::InvalidArgumentError(absl::StrCat("bad index '", idx, "'"));
      }
      piece = piece.substr(0, bracket);
    }
    if (piece.empty()) return absl::InvalidArgumentError("empty field name in path");
    part.name = std::string(piece);
    parts.push_back(part);
  }
  return parts;
}

absl::Status SetFieldFromText(Message* msg, const FieldDescriptor* f, absl::string_view value) {
  const Reflection* r = msg->GetReflection();
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    if (f->is_repeated()) {
      Message* added = r->AddMessage(msg, f);
      std::string text(absl::StripSuffix(absl::StripPrefix(value, "{"), "}"));
      if (!TextFormat::ParseFromString(text, added)) {
        r->RemoveLast(msg, f);
        return absl::InvalidArgumentError(
            absl::StrCat("cannot parse '", value, "' as ", f->message_type()->full_name()));
      }
      return absl::OkStatus();
    }
    std::string text(absl::StripSuffix(absl::StripPrefix(value, "{"), "}"));
    if (!TextFormat::MergeFromString(text, r->MutableMessage(msg, f))) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot parse '", value, "' as ", f->message_type()->full_name()));
    }
    return absl::OkStatus();
  }
  if (f->is_repeated()) {
    r->ClearField(msg, f);
    if (value.empty()) return absl::OkStatus();
    for (absl::string_view item : absl::StrSplit(value, ',')) {
      std::string text = absl::StrCat(f->name(), ": ",
                                      f->cpp_type() == FieldDescriptor::CPPTYPE_STRING
                                          ? absl::StrCat("\"", absl::CEscape(item), "\"")
                                          : std::string(item));
      if (!TextFormat::MergeFromString(text, msg)) {
        return absl::InvalidArgumentError(
            absl::StrCat("'", item, "' is not a valid ", f->type_name(), " for ", f->name()));
      }
    }
    return absl::OkStatus();
  }
  std::string text = f->cpp_type() == FieldDescriptor::CPPTYPE_STRING
                         ? absl::StrCat("\"", absl::CEscape(value), "\"")
                         : std::string(value);
  if (!TextFormat::ParseFieldValueFromString(text, f, msg)) {
    std::string expected = f->type_name();
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
      std::vector<std::string> names;
      for (int i = 0; i < f->enum_type()->value_count(); ++i) {
        names.push_back(f->enum_type()->value(i)->name());
      }
      expected = absl::StrCat("one of ", absl::StrJoin(names, ", "));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("'", value, "' is not a valid value; expected ", expected));
  }
  return absl::OkStatus();
}

void MaterializeDefaults(Message* m) {
  const Descriptor* d = m->GetDescriptor();
  const Reflection* r = m->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_repeated()) {
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_map()) {
        for (int j = 0; j < r->FieldSize(*m, f); ++j) {
          MaterializeDefaults(r->MutableRepeatedMessage(m, f, j));
        }
      }
      continue;
    }
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      MaterializeDefaults(r->MutableMessage(m, f));
      continue;
    }
    if (!f->has_presence() || r->HasField(*m, f)) continue;
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        r->SetInt32(m, f, f->default_value_int32());
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        r->SetInt64(m, f, f->default_value_int64());
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        r->SetUInt32(m, f, f->default_value_uint32());
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        r->SetUInt64(m, f, f->default_value_uint64());
        break;
      case FieldDescriptor::CPPTYPE_FLOAT:
        r->SetFloat(m, f, f->default_value_float());
        break;
      case FieldDescriptor::CPPTYPE_DOUBLE:
        r->SetDouble(m, f, f->default_value_double());
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        r->SetBool(m, f, f->default_value_bool());
        break;
      case FieldDescriptor::CPPTYPE_ENUM:
        r->SetEnum(m, f, f->default_value_enum());
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        r->SetString(m, f, f->default_value_string());
        break;
      default:
        break;
    }
  }
}

}  // namespace

absl::StatusOr<JobConfig> ParseJobConfig(absl::string_view text, absl::string_view filename) {
  return ParseJobConfigWithLocations(text, filename, nullptr);
}

absl::StatusOr<JobConfig> ParseJobConfigWithLocations(absl::string_view text,
                                                      absl::string_view filename,
                                                      ConfigLocations* locations) {
  JobConfig config;
  TextFormat::Parser parser;
  ErrorCollector collector(std::string(filename), text);
  TextFormat::ParseInfoTree tree;
  parser.RecordErrorsTo(&collector);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(std::string(text), &config)) {
    std::vector<std::string> errors = collector.errors();
    if (errors.empty()) errors.push_back(absl::StrCat(filename, ": cannot parse config"));
    return JoinErrors(errors);
  }
  // Ranges are checked here, where source positions are known; cross-field rules wait until
  // overrides and presets are applied (LoadJobConfig).
  std::vector<std::string> errors;
  CheckBounds(config, "", &tree, filename, &errors);
  RETURN_IF_ERROR(JoinErrors(errors));
  if (locations != nullptr) RecordLocations(config, "", &tree, filename, locations);
  return config;
}

absl::Status ApplyOverride(absl::string_view assignment, JobConfig* config) {
  const std::string where = absl::StrCat("--set ", assignment);
  size_t eq = assignment.find('=');
  if (eq == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": expected path.to.field=value"));
  }
  absl::string_view path = absl::StripAsciiWhitespace(assignment.substr(0, eq));
  absl::string_view value = absl::StripAsciiWhitespace(assignment.substr(eq + 1));
  auto parts_or = SplitPath(path);
  if (!parts_or.ok()) return Annotate(parts_or.status(), where);
  const auto& parts = *parts_or;
  Message* msg = config;
  std::string walked;
  for (size_t i = 0; i < parts.size(); ++i) {
    const PathPart& part = parts[i];
    const Descriptor* d = msg->GetDescriptor();
    const FieldDescriptor* f = d->FindFieldByName(part.name);
    walked = walked.empty() ? part.name : absl::StrCat(walked, ".", part.name);
    if (f == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", d->full_name(), " has no field '", part.name, "'"));
    }
    const bool last = i + 1 == parts.size();
    if (last) {
      if (part.index >= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": indexing the last path element is not supported"));
      }
      return Annotate(SetFieldFromText(msg, f, value), absl::StrCat(where, ": ", walked));
    }
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": '", walked, "' is not a message, cannot descend into it"));
    }
    const Reflection* r = msg->GetReflection();
    if (f->is_repeated()) {
      if (part.index < 0 || part.index >= r->FieldSize(*msg, f)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": '", walked, "' is repeated with ", r->FieldSize(*msg, f),
                         " elements; address one as ", part.name, "[i]"));
      }
      msg = r->MutableRepeatedMessage(msg, f, part.index);
    } else {
      msg = r->MutableMessage(msg, f);
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyModelPreset(ModelConfig* model) {
  const std::string& name = model->preset();
  if (name.empty() || name == "tiny") return absl::OkStatus();  // the field defaults are tiny
  ModelConfig preset;
  if (name == "small") {
    preset.set_vocab_size(320);
    preset.set_d_model(1024);
    preset.set_n_layers(16);
    preset.set_n_heads(16);
    preset.set_q_lora_rank(384);
    preset.set_kv_lora_rank(256);
    preset.set_qk_nope_head_dim(64);
    preset.set_qk_rope_head_dim(32);
    preset.set_v_head_dim(64);
    preset.set_index_n_heads(16);
    preset.set_index_head_dim(64);
    preset.set_index_topk(512);
    preset.set_intermediate_size(2816);
    preset.set_max_position_embeddings(8192);
    preset.set_original_max_position_embeddings(8192);
    preset.set_n_routed_experts(16);
    preset.set_num_experts_per_tok(2);
    preset.set_n_shared_experts(1);
    preset.set_moe_intermediate_size(704);
    preset.set_first_k_dense_replace(2);
  } else {
    return absl::NotFoundError(
        absl::StrCat("model.preset: unknown preset '", name, "'; known: tiny, small"));
  }
  // Fields set explicitly in the config win over the preset.
  preset.MergeFrom(*model);
  *model = preset;
  return absl::OkStatus();
}

absl::Status ValidateJobConfig(const JobConfig& config, absl::string_view origin) {
  return ValidateWithLocations(config, ConfigLocations(std::string(origin)));
}

absl::StatusOr<LoadedJobConfig> LoadJobConfigWithLocations(
    const std::string& path, const std::vector<std::string>& overrides) {
  ASSIGN_OR_RETURN(std::string text, ReadFileBounded(path, kMaxTextFileBytes, "config file"));
  LoadedJobConfig out{
      JobConfig(),
      ConfigLocations(overrides.empty() ? path : absl::StrCat(path, " (after --set overrides)"))};
  ASSIGN_OR_RETURN(out.config, ParseJobConfigWithLocations(text, path, &out.locations));
  for (const std::string& o : overrides) {
    RETURN_IF_ERROR(ApplyOverride(o, &out.config));
    const size_t eq = o.find('=');
    std::string field(absl::StripAsciiWhitespace(absl::string_view(o).substr(0, eq)));
    out.locations.Record(std::move(field), absl::StrCat("--set ", o));
  }
  RETURN_IF_ERROR(Annotate(ApplyModelPreset(out.config.mutable_model()), path));
  RETURN_IF_ERROR(ValidateWithLocations(out.config, out.locations));
  return out;
}

absl::StatusOr<JobConfig> LoadJobConfig(const std::string& path,
                                        const std::vector<std::string>& overrides) {
  ASSIGN_OR_RETURN(LoadedJobConfig loaded, LoadJobConfigWithLocations(path, overrides));
  return std::move(loaded.config);
}

std::string ConfigLocations::Of(absl::string_view field_path) const {
  std::string path(field_path);
  while (!path.empty()) {
    if (auto it = at_.find(path); it != at_.end()) return it->second;
    const size_t cut = path.find_last_of(".[");
    if (cut == std::string::npos) break;
    path.resize(cut);
  }
  return origin_;
}

void ConfigLocations::Record(std::string field_path, std::string where) {
  // What the file wrote inside a field an override replaces is no longer where it came from.
  for (auto it = at_.lower_bound(field_path);
       it != at_.end() && absl::StartsWith(it->first, field_path);) {
    const char next = it->first.size() > field_path.size() ? it->first[field_path.size()] : '\0';
    it = next == '.' || next == '[' ? at_.erase(it) : std::next(it);
  }
  at_[std::move(field_path)] = std::move(where);
}

JobConfig WithDefaultsMaterialized(const JobConfig& config) {
  JobConfig out = config;
  MaterializeDefaults(&out);
  return out;
}

}  // namespace dsarl::proto
