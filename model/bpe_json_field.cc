// Path-carrying accessors for the tokenizer.json loader (see bpe_json_field.h).
#include "model/bpe_json_field.h"

#include "absl/strings/str_cat.h"

namespace dsarl::model::bpe {
namespace {

absl::string_view TypeName(Json::Type t) {
  switch (t) {
    case Json::Type::kNull:
      return "null";
    case Json::Type::kBool:
      return "a bool";
    case Json::Type::kNumber:
      return "a number";
    case Json::Type::kString:
      return "a string";
    case Json::Type::kArray:
      return "an array";
    case Json::Type::kObject:
      return "an object";
  }
  return "?";
}

}  // namespace

absl::Status JsonField::Error(absl::string_view what) const {
  if (path_.empty()) return absl::InvalidArgumentError(absl::StrCat(source_, ": ", what));
  return absl::InvalidArgumentError(absl::StrCat(source_, ": ", path_, ": ", what));
}

absl::Status JsonField::RequireObject() const {
  if (value_->is_object()) return absl::OkStatus();
  return Error(absl::StrCat("expected an object, got ", TypeName(value_->type())));
}

absl::Status JsonField::RequireArray() const {
  if (value_->is_array()) return absl::OkStatus();
  return Error(absl::StrCat("expected an array, got ", TypeName(value_->type())));
}

std::optional<JsonField> JsonField::Find(absl::string_view key) const {
  const Json* member = value_->Find(key);
  if (member == nullptr) return std::nullopt;
  return JsonField(*member, source_,
                   path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key));
}

absl::StatusOr<JsonField> JsonField::Get(absl::string_view key) const {
  if (absl::Status s = RequireObject(); !s.ok()) return s;
  std::optional<JsonField> member = Find(key);
  if (!member.has_value()) return Error(absl::StrCat("missing field \"", key, "\""));
  return *member;
}

JsonField JsonField::At(size_t i) const {
  return JsonField(value_->array()[i], source_, absl::StrCat(path_, "[", i, "]"));
}

JsonField JsonField::MemberAt(size_t i) const {
  const auto& [key, member] = value_->object()[i];
  // The key is already valid UTF-8 (the reader checks); Dump escapes quotes and controls.
  return JsonField(member, source_, absl::StrCat(path_, "[", Json::String(key).Dump(), "]"));
}

absl::StatusOr<std::string> JsonField::AsString() const {
  if (value_->is_string()) return value_->string_value();
  return Error(absl::StrCat("expected a string, got ", TypeName(value_->type())));
}

absl::StatusOr<bool> JsonField::AsBool() const {
  if (value_->is_bool()) return value_->bool_value();
  return Error(absl::StrCat("expected a bool, got ", TypeName(value_->type())));
}

absl::StatusOr<int64_t> JsonField::AsInt(int64_t min, int64_t max) const {
  if (!value_->is_integer()) {
    const std::string got =
        value_->is_number() ? value_->Dump() : std::string(TypeName(value_->type()));
    return Error(absl::StrCat("expected an integer, got ", got));
  }
  const int64_t v = value_->int_value();
  if (v < min || v > max) return Error(absl::StrCat(v, " is outside [", min, ", ", max, "]"));
  return v;
}

absl::StatusOr<std::string> JsonField::GetString(absl::string_view key) const {
  absl::StatusOr<JsonField> member = Get(key);
  if (!member.ok()) return member.status();
  return member->AsString();
}

absl::StatusOr<bool> JsonField::GetBool(absl::string_view key, bool fallback) const {
  std::optional<JsonField> member = Find(key);
  if (!member.has_value() || member->value().is_null()) return fallback;
  return member->AsBool();
}

absl::Status JsonField::UnsupportedType(absl::string_view type, absl::string_view why) const {
  JsonField type_field(*value_, source_, path_.empty() ? "type" : absl::StrCat(path_, ".type"));
  return type_field.Error(absl::StrCat("unsupported ", Json::String(std::string(type)).Dump(),
                                       why.empty() ? "" : absl::StrCat(" (", why, ")")));
}

}  // namespace dsarl::model::bpe
