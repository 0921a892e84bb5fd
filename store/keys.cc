// Key codecs: fixed-width big-endian fields behind a one-byte tag (see keys.h).
#include "store/keys.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace dsarl::store {
namespace {

constexpr uint64_t kSignBit = uint64_t{1} << 63;

std::string Tagged(char tag) { return std::string(1, tag); }

absl::Status BadKey(absl::string_view what, absl::string_view key) {
  return absl::DataLossError(
      absl::StrCat("malformed ", what, " key ", absl::BytesToHexString(key)));
}

}  // namespace

void AppendU32(std::string* key, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) key->push_back(static_cast<char>(v >> shift));
}

void AppendU64(std::string* key, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) key->push_back(static_cast<char>(v >> shift));
}

void AppendI64(std::string* key, int64_t v) { AppendU64(key, static_cast<uint64_t>(v) ^ kSignBit); }

bool ConsumeU32(absl::string_view* in, uint32_t* v) {
  if (in->size() < 4) return false;
  uint32_t out = 0;
  for (int i = 0; i < 4; ++i) out = (out << 8) | static_cast<uint8_t>((*in)[i]);
  in->remove_prefix(4);
  *v = out;
  return true;
}

bool ConsumeU64(absl::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  uint64_t out = 0;
  for (int i = 0; i < 8; ++i) out = (out << 8) | static_cast<uint8_t>((*in)[i]);
  in->remove_prefix(8);
  *v = out;
  return true;
}

bool ConsumeI64(absl::string_view* in, int64_t* v) {
  uint64_t u = 0;
  if (!ConsumeU64(in, &u)) return false;
  *v = static_cast<int64_t>(u ^ kSignBit);
  return true;
}

absl::Status ValidateCategory(const std::string& category) {
  if (category.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("category '", absl::CEscape(category), "' contains a NUL byte"));
  }
  return absl::OkStatus();
}

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last != 0xFF) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return end;
}

std::string EnvKey(uint64_t env_id) {
  std::string key = Tagged(kEnvTag);
  AppendU64(&key, env_id);
  return key;
}

std::string CategoryIndexPrefix(const std::string& category) {
  std::string key = Tagged(kCategoryTag);
  key += category;
  key.push_back('\0');
  return key;
}

std::string CategoryIndexKey(const std::string& category, uint64_t id) {
  std::string key = CategoryIndexPrefix(category);
  AppendU64(&key, id);
  return key;
}

std::string PromptKey(uint64_t prompt_id) {
  std::string key = Tagged(kPromptTag);
  AppendU64(&key, prompt_id);
  return key;
}

std::string PromptByEnvPrefix(uint64_t env_id) {
  std::string key = Tagged(kPromptByEnvTag);
  AppendU64(&key, env_id);
  return key;
}

std::string PromptByEnvKey(uint64_t env_id, uint64_t prompt_id) {
  std::string key = PromptByEnvPrefix(env_id);
  AppendU64(&key, prompt_id);
  return key;
}

std::string GroupRunPrefix(uint64_t run_id) {
  std::string key = Tagged(kGroupTag);
  AppendU64(&key, run_id);
  return key;
}

std::string GroupRunStepPrefix(uint64_t run_id, int64_t step) {
  std::string key = GroupRunPrefix(run_id);
  AppendI64(&key, step);
  return key;
}

std::string GroupKey(const GroupKeyParts& parts) {
  std::string key = GroupRunStepPrefix(parts.run_id, parts.step);
  AppendU64(&key, parts.prompt_id);
  AppendU32(&key, parts.attempt);
  return key;
}

std::string GroupIdKey(uint64_t prompt_id, uint32_t attempt) {
  std::string key = Tagged(kGroupIdTag);
  AppendU64(&key, prompt_id);
  AppendU32(&key, attempt);
  return key;
}

std::string TrajectoryGroupPrefix(uint64_t prompt_id, uint32_t attempt) {
  std::string key = Tagged(kTrajectoryTag);
  AppendU64(&key, prompt_id);
  AppendU32(&key, attempt);
  return key;
}

std::string TrajectoryKey(uint64_t prompt_id, uint32_t attempt, uint32_t sample_index) {
  std::string key = TrajectoryGroupPrefix(prompt_id, attempt);
  AppendU32(&key, sample_index);
  return key;
}

std::string RunKey(uint64_t run_id) {
  std::string key = Tagged(kRunTag);
  AppendU64(&key, run_id);
  return key;
}

std::string MetricsRunPrefix(uint64_t run_id) {
  std::string key = Tagged(kMetricsTag);
  AppendU64(&key, run_id);
  return key;
}

std::string MetricsKey(uint64_t run_id, int64_t step) {
  std::string key = MetricsRunPrefix(run_id);
  AppendI64(&key, step);
  return key;
}

std::string CheckpointRunPrefix(uint64_t run_id) {
  std::string key = Tagged(kCheckpointTag);
  AppendU64(&key, run_id);
  return key;
}

std::string CheckpointKey(uint64_t run_id, int64_t step) {
  std::string key = CheckpointRunPrefix(run_id);
  AppendI64(&key, step);
  return key;
}

std::string QuarantineKey(uint64_t seq, uint64_t prompt_id, uint32_t attempt) {
  std::string key = Tagged(kQuarantineTag);
  AppendU64(&key, seq);
  AppendU64(&key, prompt_id);
  AppendU32(&key, attempt);
  return key;
}

absl::StatusOr<GroupKeyParts> DecodeGroupKey(absl::string_view key) {
  absl::string_view in = key;
  GroupKeyParts p;
  if (in.size() != 1 + 8 + 8 + 8 + 4 || in[0] != kGroupTag) return BadKey("group", key);
  in.remove_prefix(1);
  ConsumeU64(&in, &p.run_id);
  ConsumeI64(&in, &p.step);
  ConsumeU64(&in, &p.prompt_id);
  ConsumeU32(&in, &p.attempt);
  return p;
}

absl::StatusOr<TrajectoryKeyParts> DecodeTrajectoryKey(absl::string_view key) {
  absl::string_view in = key;
  TrajectoryKeyParts p;
  if (in.size() != 1 + 8 + 4 + 4 || in[0] != kTrajectoryTag) return BadKey("trajectory", key);
  in.remove_prefix(1);
  ConsumeU64(&in, &p.prompt_id);
  ConsumeU32(&in, &p.attempt);
  ConsumeU32(&in, &p.sample_index);
  return p;
}

absl::StatusOr<QuarantineKeyParts> DecodeQuarantineKey(absl::string_view key) {
  absl::string_view in = key;
  QuarantineKeyParts p;
  if (in.size() != 1 + 8 + 8 + 4 || in[0] != kQuarantineTag) return BadKey("quarantine", key);
  in.remove_prefix(1);
  ConsumeU64(&in, &p.seq);
  ConsumeU64(&in, &p.prompt_id);
  ConsumeU32(&in, &p.attempt);
  return p;
}

absl::StatusOr<uint64_t> DecodeTrailingId(absl::string_view key) {
  if (key.size() < 9) return BadKey("id", key);
  absl::string_view tail = key.substr(key.size() - 8);
  uint64_t id = 0;
  ConsumeU64(&tail, &id);
  return id;
}

namespace {

// Describes keys of one column family; returns "" when the key has no known shape.
std::string DescribeKnown(absl::string_view cf, absl::string_view key) {
  if (key.empty()) return "";
  const char tag = key[0];
  absl::string_view in = key.substr(1);
  uint64_t a = 0, b = 0;
  uint32_t x = 0, y = 0;
  int64_t s = 0;
  auto category = [&](absl::string_view kind) -> std::string {
    size_t nul = in.find('\0');
    if (nul == absl::string_view::npos || in.size() != nul + 1 + 8) return "";
    absl::string_view rest = in.substr(nul + 1);
    ConsumeU64(&rest, &a);
    return absl::StrCat(kind, " category=", absl::CEscape(in.substr(0, nul)), " id=", a);
  };
  if (cf == "envs") {
    if (tag == kEnvTag && in.size() == 8 && ConsumeU64(&in, &a)) return absl::StrCat("env ", a);
    if (tag == kCategoryTag) return category("env-index");
  } else if (cf == "prompts") {
    if (tag == kPromptTag && in.size() == 8 && ConsumeU64(&in, &a)) {
      return absl::StrCat("prompt ", a);
    }
    if (tag == kPromptByEnvTag && in.size() == 16 && ConsumeU64(&in, &a) && ConsumeU64(&in, &b)) {
      return absl::StrCat("prompt-index env=", a, " prompt=", b);
    }
    if (tag == kCategoryTag) return category("prompt-index");
  } else if (cf == "groups") {
    if (tag == kGroupTag) {
      auto p = DecodeGroupKey(key);
      if (!p.ok()) return "";
      return absl::StrCat("group run=", p->run_id, " step=", p->step, " prompt=", p->prompt_id,
                          " attempt=", p->attempt);
    }
    if (tag == kGroupIdTag && in.size() == 12 && ConsumeU64(&in, &a) && ConsumeU32(&in, &x)) {
      return absl::StrCat("group-index prompt=", a, " attempt=", x);
    }
  } else if (cf == "trajectories") {
    if (tag == kTrajectoryTag && in.size() == 16 && ConsumeU64(&in, &a) && ConsumeU32(&in, &x) &&
        ConsumeU32(&in, &y)) {
      return absl::StrCat("trajectory prompt=", a, " attempt=", x, " sample=", y);
    }
  } else if (cf == "runs") {
    if (tag == kRunTag && in.size() == 8 && ConsumeU64(&in, &a)) return absl::StrCat("run ", a);
    if ((tag == kMetricsTag || tag == kCheckpointTag) && in.size() == 16 && ConsumeU64(&in, &a) &&
        ConsumeI64(&in, &s)) {
      return absl::StrCat(tag == kMetricsTag ? "metrics" : "checkpoint", " run=", a, " step=", s);
    }
  } else if (cf == "quarantine") {
    if (tag == kQuarantineTag) {
      auto p = DecodeQuarantineKey(key);
      if (!p.ok()) return "";
      return absl::StrCat("quarantined seq=", p->seq, " prompt=", p->prompt_id,
                          " attempt=", p->attempt);
    }
  } else if (cf == "meta") {
    return absl::StrCat("meta ", absl::CEscape(key));
  }
  return "";
}

}  // namespace

std::string DescribeKey(absl::string_view cf, absl::string_view key) {
  std::string known = DescribeKnown(cf, key);
  return known.empty() ? absl::StrCat("? ", absl::BytesToHexString(key)) : known;
}

}  // namespace dsarl::store
