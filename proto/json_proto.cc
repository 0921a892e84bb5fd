#include "proto/json_proto.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "google/protobuf/descriptor.h"

namespace dsarl {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// ---- writing ------------------------------------------------------------------------------------

// One value of field `f`: element `index` of a repeated field, or the singular value (index -1).
Json ValueToJson(const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return Json::Int(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return Json::Int(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return Json::Int(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return Json::Uint(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return Json::Number(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return Json::Float(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
    case FieldDescriptor::CPPTYPE_BOOL:
      return Json::Bool(rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f));
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int v = rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f);
      const auto* value = f->enum_type()->FindValueByNumber(v);
      return value != nullptr ? Json::String(value->name()) : Json::Int(v);
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& s = rep ? r->GetRepeatedStringReference(m, f, index, &scratch)
                                 : r->GetStringReference(m, f, &scratch);
      return Json::String(f->type() == FieldDescriptor::TYPE_BYTES ? absl::Base64Escape(s) : s);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (!rep && !r->HasField(m, f)) return Json();
      return ProtoToJson(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
  }
  return Json();
}

// A map field as an object, keys sorted (protobuf keeps maps in no particular order).
Json MapToJson(const Message& m, const FieldDescriptor* f) {
  const Reflection* r = m.GetReflection();
  const FieldDescriptor* key_f = f->message_type()->map_key();
  const FieldDescriptor* value_f = f->message_type()->map_value();
  std::vector<std::pair<std::string, Json>> entries;
  for (int i = 0; i < r->FieldSize(m, f); ++i) {
    const Message& entry = r->GetRepeatedMessage(m, f, i);
    Json key = ValueToJson(entry, key_f, -1);
    // JSON keys are strings: a string key as it is, any other key in its JSON text.
    std::string text = key.is_string() ? key.string_value() : key.Dump();
    entries.emplace_back(std::move(text), ValueToJson(entry, value_f, -1));
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  Json out = Json::Object();
  for (auto& [k, v] : entries) out.Set(std::move(k), std::move(v));
  return out;
}

// ---- reading ------------------------------------------------------------------------------------

absl::Status TypeError(const std::string& path, absl::string_view expected) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": expected ", expected));
}

// An integer of [lo, hi] from a JSON integer or a decimal string.
template <typename T>
absl::StatusOr<T> ReadInteger(const Json& j, const std::string& path) {
  constexpr T lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
  if (j.is_string()) {
    T v;
    if (!absl::SimpleAtoi(j.string_value(), &v)) return TypeError(path, "an integer");
    return v;
  }
  if (j.is_unsigned()) {
    if (j.uint_value() > uint64_t(hi)) return TypeError(path, "an integer in range");
    return static_cast<T>(j.uint_value());
  }
  if (!j.is_integer()) return TypeError(path, "an integer");
  const int64_t v = j.int_value();
  if constexpr (std::is_signed_v<T>) {
    if (v < int64_t(lo) || v > int64_t(hi)) return TypeError(path, "an integer in range");
  } else {
    if (v < 0 || uint64_t(v) > uint64_t(hi)) return TypeError(path, "a non-negative integer");
  }
  return static_cast<T>(v);
}

absl::StatusOr<double> ReadFloating(const Json& j, const std::string& path) {
  if (j.is_number()) return j.number_value();
  if (j.is_string()) {
    const std::string& s = j.string_value();
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
  }
  return TypeError(path, "a number");
}

absl::StatusOr<int> ReadEnum(const Json& j, const FieldDescriptor* f, const std::string& path) {
  if (j.is_string()) {
    const auto* v = f->enum_type()->FindValueByName(j.string_value());
    if (v == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": '", j.string_value(), "' is not a value of ", f->enum_type()->full_name()));
    }
    return v->number();
  }
  return ReadInteger<int32_t>(j, path);
}

absl::Status ReadMessage(const Json& json, Message* m, const std::string& path,
                         const JsonToProtoOptions& options);

// Sets (index < 0) or adds (repeated) one value of field `f` from `j`.
absl::Status ReadValue(const Json& j, Message* m, const FieldDescriptor* f, const std::string& path,
                       const JsonToProtoOptions& options) {
  const Reflection* r = m->GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
#define DSARL_INTEGER_CASE(CPP, T, Name)                 \
  case FieldDescriptor::CPP: {                           \
    ASSIGN_OR_RETURN(T v, ReadInteger<T>(j, path));      \
    rep ? r->Add##Name(m, f, v) : r->Set##Name(m, f, v); \
    return absl::OkStatus();                             \
  }
    DSARL_INTEGER_CASE(CPPTYPE_INT32, int32_t, Int32)
    DSARL_INTEGER_CASE(CPPTYPE_INT64, int64_t, Int64)
    DSARL_INTEGER_CASE(CPPTYPE_UINT32, uint32_t, UInt32)
    DSARL_INTEGER_CASE(CPPTYPE_UINT64, uint64_t, UInt64)
#undef DSARL_INTEGER_CASE
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      ASSIGN_OR_RETURN(double v, ReadFloating(j, path));
      rep ? r->AddDouble(m, f, v) : r->SetDouble(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_FLOAT: {
      ASSIGN_OR_RETURN(double v, ReadFloating(j, path));
      rep ? r->AddFloat(m, f, float(v)) : r->SetFloat(m, f, float(v));
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      if (!j.is_bool()) return TypeError(path, "true or false");
      rep ? r->AddBool(m, f, j.bool_value()) : r->SetBool(m, f, j.bool_value());
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_ENUM: {
      ASSIGN_OR_RETURN(int v, ReadEnum(j, f, path));
      rep ? r->AddEnumValue(m, f, v) : r->SetEnumValue(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      if (!j.is_string()) return TypeError(path, "a string");
      std::string v = j.string_value();
      if (f->type() == FieldDescriptor::TYPE_BYTES && !absl::Base64Unescape(j.string_value(), &v)) {
        return TypeError(path, "base64 bytes");
      }
      rep ? r->AddString(m, f, std::move(v)) : r->SetString(m, f, std::move(v));
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      Message* sub = rep ? r->AddMessage(m, f) : r->MutableMessage(m, f);
      return ReadMessage(j, sub, path, options);
    }
  }
  return absl::OkStatus();
}

absl::Status ReadMap(const Json& j, Message* m, const FieldDescriptor* f, const std::string& path,
                     const JsonToProtoOptions& options) {
  if (!j.is_object()) return TypeError(path, "an object");
  const FieldDescriptor* key_f = f->message_type()->map_key();
  const FieldDescriptor* value_f = f->message_type()->map_value();
  for (const auto& [key, value] : j.object()) {
    Message* entry = m->GetReflection()->AddMessage(m, f);
    const std::string at = absl::StrCat(path, "[\"", key, "\"]");
    // The key is text: a string key as it is, an integer or bool key parsed from it.
    Json key_json = Json::String(key);
    if (key_f->cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
      absl::StatusOr<Json> parsed = ParseJson(key);
      if (!parsed.ok()) return TypeError(at, "a key of the map's key type");
      key_json = *parsed;
    }
    RETURN_IF_ERROR(ReadValue(key_json, entry, key_f, at, options));
    if (!value.is_null()) RETURN_IF_ERROR(ReadValue(value, entry, value_f, at, options));
  }
  return absl::OkStatus();
}

absl::Status ReadMessage(const Json& json, Message* m, const std::string& path,
                         const JsonToProtoOptions& options) {
  if (!json.is_object()) return TypeError(path.empty() ? "the value" : path, "an object");
  const auto* d = m->GetDescriptor();
  for (const auto& [name, value] : json.object()) {
    const FieldDescriptor* f = d->FindFieldByName(name);
    if (f == nullptr) f = d->FindFieldByCamelcaseName(name);
    const std::string at = path.empty() ? name : absl::StrCat(path, ".", name);
    if (f == nullptr) {
      if (options.ignore_unknown_fields) continue;
      return absl::InvalidArgumentError(
          absl::StrCat(at, ": no field of that name in ", d->full_name()));
    }
    if (value.is_null()) continue;  // unset
    if (f->is_map()) {
      RETURN_IF_ERROR(ReadMap(value, m, f, at, options));
    } else if (f->is_repeated()) {
      if (!value.is_array()) return TypeError(at, "an array");
      for (size_t i = 0; i < value.array().size(); ++i) {
        RETURN_IF_ERROR(ReadValue(value.array()[i], m, f, absl::StrCat(at, "[", i, "]"), options));
      }
    } else {
      RETURN_IF_ERROR(ReadValue(value, m, f, at, options));
    }
  }
  return absl::OkStatus();
}

}  // namespace

Json ProtoToJson(const Message& message, std::initializer_list<absl::string_view> skip) {
  const Reflection* r = message.GetReflection();
  const auto* d = message.GetDescriptor();
  Json out = Json::Object();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (std::find(skip.begin(), skip.end(), absl::string_view(f->name())) != skip.end()) continue;
    if (f->real_containing_oneof() != nullptr && !r->HasField(message, f)) continue;
    if (f->is_map()) {
      out.Set(f->name(), MapToJson(message, f));
    } else if (f->is_repeated()) {
      Json list = Json::Array();
      for (int j = 0; j < r->FieldSize(message, f); ++j) list.Push(ValueToJson(message, f, j));
      out.Set(f->name(), std::move(list));
    } else {
      out.Set(f->name(), ValueToJson(message, f, -1));
    }
  }
  return out;
}

absl::Status JsonToProto(const Json& json, Message* message, const JsonToProtoOptions& options) {
  message->Clear();
  return ReadMessage(json, message, "", options);
}

}  // namespace dsarl
