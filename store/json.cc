// Reflection-based protobuf -> JSON for export (see json.h for the format).
#include "store/json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "base/json_string.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"

namespace dsarl::store {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

template <typename T>
void AppendFloat(T v, std::string* out) {
  if (!std::isfinite(v)) {
    out->append("null");
    return;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip form
  out->append(buf, ec == std::errc() ? end : buf);
}

void AppendObject(const Message& message, std::string* out);

// One value of field `f`: element `index` of a repeated field, or the singular value (index -1).
void AppendValue(const Message& m, const FieldDescriptor* f, int index, std::string* out) {
  const Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      absl::StrAppend(out, rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      absl::StrAppend(out, rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      absl::StrAppend(out, rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      absl::StrAppend(out, rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      AppendFloat(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f), out);
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      AppendFloat(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f), out);
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      out->append((rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false");
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int v = rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f);
      const auto* value = f->enum_type()->FindValueByNumber(v);
      if (value != nullptr) {
        AppendJsonString(value->name(), out);
      } else {
        absl::StrAppend(out, v);
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& s = rep ? r->GetRepeatedStringReference(m, f, index, &scratch)
                                 : r->GetStringReference(m, f, &scratch);
      AppendJsonString(f->type() == FieldDescriptor::TYPE_BYTES ? absl::Base64Escape(s) : s, out);
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (!rep && !r->HasField(m, f)) {
        out->append("null");
      } else {
        AppendObject(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f), out);
      }
      break;
  }
}

// A map field as an object, keys sorted (protobuf keeps maps in no particular order).
void AppendMap(const Message& m, const FieldDescriptor* f, std::string* out) {
  const Reflection* r = m.GetReflection();
  std::vector<std::pair<std::string, std::string>> entries;
  for (int i = 0; i < r->FieldSize(m, f); ++i) {
    const Message& entry = r->GetRepeatedMessage(m, f, i);
    const FieldDescriptor* key_f = f->message_type()->map_key();
    const FieldDescriptor* value_f = f->message_type()->map_value();
    std::string key, value;
    AppendValue(entry, key_f, -1, &key);
    if (key.empty() || key[0] != '"') key = absl::StrCat("\"", key, "\"");  // JSON keys are strings
    AppendValue(entry, value_f, -1, &value);
    entries.emplace_back(std::move(key), std::move(value));
  }
  std::sort(entries.begin(), entries.end());
  out->push_back('{');
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) out->push_back(',');
    absl::StrAppend(out, entries[i].first, ":", entries[i].second);
  }
  out->push_back('}');
}

void AppendObject(const Message& message, std::string* out) {
  out->push_back('{');
  bool first = true;
  AppendJsonMembers(message, out, &first);
  out->push_back('}');
}

}  // namespace

void AppendJsonMembers(const Message& message, std::string* out, bool* first,
                       std::initializer_list<absl::string_view> skip) {
  const Reflection* r = message.GetReflection();
  const auto* d = message.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (std::find(skip.begin(), skip.end(), absl::string_view(f->name())) != skip.end()) continue;
    if (f->real_containing_oneof() != nullptr && !r->HasField(message, f)) continue;
    if (!*first) out->push_back(',');
    *first = false;
    AppendJsonString(f->name(), out);
    out->push_back(':');
    if (f->is_map()) {
      AppendMap(message, f, out);
    } else if (f->is_repeated()) {
      out->push_back('[');
      for (int j = 0; j < r->FieldSize(message, f); ++j) {
        if (j > 0) out->push_back(',');
        AppendValue(message, f, j, out);
      }
      out->push_back(']');
    } else {
      AppendValue(message, f, -1, out);
    }
  }
}

std::string ToJson(const Message& message) {
  std::string out;
  AppendObject(message, &out);
  return out;
}

}  // namespace dsarl::store
