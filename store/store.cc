// The typed store API over Database (see store.h): values are data.proto messages, keys come from
// keys.h, and every write carries the updated counts in the same batch.
#include "store/store.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "store/keys.h"
#include "store/store_codec.h"

namespace dsarl::store {

using internal::Batch;
using internal::Deterministic;
using internal::ParseValue;
absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& dir,
                                                   const OpenOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(dir, options));
  std::unique_ptr<Store> store(new Store(std::move(db)));
  RETURN_IF_ERROR(store->LoadCounts());
  return store;
}

absl::Status Store::LoadCounts() {
  proto::StoreCounts counts;
  absl::StatusOr<std::string> value = db_->Get(Cf::kMeta, kMetaCountsKey);
  if (value.ok()) {
    RETURN_IF_ERROR(ParseValue(*db_, Cf::kMeta, kMetaCountsKey, *value, &counts));
  } else if (!absl::IsNotFound(value.status())) {
    return value.status();
  }
  const std::string prefix(1, kQuarantineTag);
  std::string last_key, last_value;
  ASSIGN_OR_RETURN(bool any,
                   db_->Last(Cf::kQuarantine, prefix, PrefixEnd(prefix), &last_key, &last_value));
  uint64_t next_seq = 0;
  if (any) {
    ASSIGN_OR_RETURN(QuarantineKeyParts parts, DecodeQuarantineKey(last_key));
    next_seq = parts.seq + 1;
  }
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    next_quarantine_seq_ = next_seq;
  }
  std::lock_guard<std::mutex> lock(counts_mu_);
  counts_ = counts;
  return absl::OkStatus();
}

proto::StoreCounts Store::Counts() const {
  std::lock_guard<std::mutex> lock(counts_mu_);
  return counts_;
}

absl::Status Store::CatchUp() {
  RETURN_IF_ERROR(db_->CatchUp());
  return LoadCounts();
}

absl::Status Store::CommitWithCounts(rocksdb::WriteBatch* batch, const proto::StoreCounts& counts) {
  RETURN_IF_ERROR(
      FromRocks(batch->Put(db_->handle(Cf::kMeta), kMetaCountsKey, Deterministic(counts)),
                "building a store write"));
  RETURN_IF_ERROR(db_->Write(batch));
  std::lock_guard<std::mutex> lock(counts_mu_);
  counts_ = counts;
  return absl::OkStatus();
}

absl::StatusOr<bool> Store::Exists(Cf cf, const std::string& key) const {
  absl::StatusOr<std::string> value = db_->Get(cf, key);
  if (value.ok()) return true;
  if (absl::IsNotFound(value.status())) return false;
  return value.status();
}

template <typename T>
absl::Status Store::ScanIndex(Cf cf, const std::string& prefix, std::string (*record_key)(uint64_t),
                              const Visitor<T>& visit) const {
  absl::Status inner;
  auto view = db_->NewReadView();
  RETURN_IF_ERROR(db_->Scan(
      cf, prefix, PrefixEnd(prefix),
      [&](absl::string_view key, absl::string_view) {
        absl::StatusOr<uint64_t> id = DecodeTrailingId(key);
        if (!id.ok()) {
          inner = id.status();
          return false;
        }
        const std::string rkey = record_key(*id);
        absl::StatusOr<std::string> value = db_->Get(cf, rkey, view.get());
        T record;
        inner = value.ok() ? ParseValue(*db_, cf, rkey, *value, &record)
                           : Annotate(value.status(), "index entry without its record");
        return inner.ok() && visit(record);
      },
      view.get()));
  return inner;
}

// ---- environments ------------------------------------------------------------------------------

absl::Status Store::PutEnv(const proto::EnvSpec& env) {
  RETURN_IF_ERROR(ValidateCategory(env.category()));
  std::lock_guard<std::mutex> lock(write_mu_);
  proto::StoreCounts counts = counts_;
  Batch batch(*db_);
  const std::string key = EnvKey(env.id());
  absl::StatusOr<std::string> old_value = db_->Get(Cf::kEnvs, key);
  if (old_value.ok()) {
    proto::EnvSpec old;
    RETURN_IF_ERROR(ParseValue(*db_, Cf::kEnvs, key, *old_value, &old));
    if (old.category() != env.category()) {
      batch.Delete(Cf::kEnvs, CategoryIndexKey(old.category(), env.id()));
    }
  } else if (absl::IsNotFound(old_value.status())) {
    counts.set_envs(counts.envs() + 1);
  } else {
    return old_value.status();
  }
  batch.Put(Cf::kEnvs, key, Deterministic(env));
  batch.Put(Cf::kEnvs, CategoryIndexKey(env.category(), env.id()), "");
  RETURN_IF_ERROR(batch.status());
  return CommitWithCounts(batch.batch(), counts);
}

absl::StatusOr<proto::EnvSpec> Store::GetEnv(uint64_t env_id) const {
  const std::string key = EnvKey(env_id);
  ASSIGN_OR_RETURN(std::string value, db_->Get(Cf::kEnvs, key));
  proto::EnvSpec env;
  RETURN_IF_ERROR(ParseValue(*db_, Cf::kEnvs, key, value, &env));
  return env;
}

absl::Status Store::ScanEnvs(const Visitor<proto::EnvSpec>& visit) const {
  const std::string prefix(1, kEnvTag);
  return ScanRecords(Cf::kEnvs, prefix, PrefixEnd(prefix), visit);
}

absl::Status Store::ScanEnvsByCategory(const std::string& category,
                                       const Visitor<proto::EnvSpec>& visit) const {
  RETURN_IF_ERROR(ValidateCategory(category));
  return ScanIndex(Cf::kEnvs, CategoryIndexPrefix(category), &EnvKey, visit);
}

// ---- prompts -----------------------------------------------------------------------------------

absl::Status Store::PutPrompts(absl::Span<const proto::Prompt> prompts) {
  for (const proto::Prompt& p : prompts) RETURN_IF_ERROR(ValidateCategory(p.category()));
  std::lock_guard<std::mutex> lock(write_mu_);
  proto::StoreCounts counts = counts_;
  Batch batch(*db_);
  std::map<uint64_t, const proto::Prompt*> in_batch;  // earlier prompts of this call, by id
  for (const proto::Prompt& p : prompts) {
    const std::string key = PromptKey(p.id());
    proto::Prompt stored;
    const proto::Prompt* old = nullptr;
    if (auto it = in_batch.find(p.id()); it != in_batch.end()) {
      old = it->second;
    } else {
      absl::StatusOr<std::string> value = db_->Get(Cf::kPrompts, key);
      if (value.ok()) {
        RETURN_IF_ERROR(ParseValue(*db_, Cf::kPrompts, key, *value, &stored));
        old = &stored;
      } else if (!absl::IsNotFound(value.status())) {
        return value.status();
      }
    }
    if (old == nullptr) {
      counts.set_prompts(counts.prompts() + 1);
    } else {
      if (old->env_id() != p.env_id()) {
        batch.Delete(Cf::kPrompts, PromptByEnvKey(old->env_id(), p.id()));
      }
      if (old->category() != p.category()) {
        batch.Delete(Cf::kPrompts, CategoryIndexKey(old->category(), p.id()));
      }
    }
    batch.Put(Cf::kPrompts, key, Deterministic(p));
    batch.Put(Cf::kPrompts, PromptByEnvKey(p.env_id(), p.id()), "");
    batch.Put(Cf::kPrompts, CategoryIndexKey(p.category(), p.id()), "");
    in_batch[p.id()] = &p;
  }
  RETURN_IF_ERROR(batch.status());
  return CommitWithCounts(batch.batch(), counts);
}

absl::StatusOr<proto::Prompt> Store::GetPrompt(uint64_t prompt_id) const {
  const std::string key = PromptKey(prompt_id);
  ASSIGN_OR_RETURN(std::string value, db_->Get(Cf::kPrompts, key));
  proto::Prompt prompt;
  RETURN_IF_ERROR(ParseValue(*db_, Cf::kPrompts, key, value, &prompt));
  return prompt;
}

absl::Status Store::ScanPrompts(const Visitor<proto::Prompt>& visit) const {
  const std::string prefix(1, kPromptTag);
  return ScanRecords(Cf::kPrompts, prefix, PrefixEnd(prefix), visit);
}

absl::Status Store::ScanPromptsByEnv(uint64_t env_id, const Visitor<proto::Prompt>& visit) const {
  return ScanIndex(Cf::kPrompts, PromptByEnvPrefix(env_id), &PromptKey, visit);
}

absl::Status Store::ScanPromptsByCategory(const std::string& category,
                                          const Visitor<proto::Prompt>& visit) const {
  RETURN_IF_ERROR(ValidateCategory(category));
  return ScanIndex(Cf::kPrompts, CategoryIndexPrefix(category), &PromptKey, visit);
}

// ---- groups ------------------------------------------------------------------------------------

// One AppendGroup waiting to be committed (see GroupCommitter).
struct Store::PendingGroup : GroupCommitter::Request {
  struct Put {
    Cf cf;
    std::string key, value;
  };
  std::vector<Put> puts;
  std::string id_key;
  uint32_t trajectories = 0;
  uint64_t tokens = 0;
  absl::StatusOr<bool> result = false;
};

absl::StatusOr<bool> Store::AppendGroup(const proto::Group& group) {
  const int n = group.trajectories_size();
  const std::string what =
      absl::StrCat("group prompt=", group.prompt_id(), " attempt=", group.attempt());
  if (n == 0) return absl::InvalidArgumentError(absl::StrCat(what, " has no trajectories"));
  if (db_->read_only()) {
    return absl::FailedPreconditionError(absl::StrCat("store ", dir(), " is open read-only"));
  }
  // Serialize everything before queueing: it is most of the work, and runs in parallel.
  PendingGroup pending;
  pending.puts.reserve(n + 2);
  std::vector<bool> seen(n, false);
  for (const proto::Trajectory& t : group.trajectories()) {
    if (t.prompt_id() != 0 && t.prompt_id() != group.prompt_id()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": trajectory ", t.sample_index(), " has prompt_id ", t.prompt_id()));
    }
    if (t.sample_index() < 0 || t.sample_index() >= n || seen[t.sample_index()]) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": sample indexes must be 0..", n - 1,
                                                     " once each; got ", t.sample_index()));
    }
    seen[t.sample_index()] = true;
    pending.tokens += t.token_ids_size();
    std::string key = TrajectoryKey(group.prompt_id(), group.attempt(), t.sample_index());
    if (t.prompt_id() == group.prompt_id()) {
      pending.puts.push_back({Cf::kTrajectories, std::move(key), Deterministic(t)});
    } else {
      proto::Trajectory filled = t;
      filled.set_prompt_id(group.prompt_id());
      pending.puts.push_back({Cf::kTrajectories, std::move(key), Deterministic(filled)});
    }
  }
  proto::Group header = group;
  header.clear_trajectories();
  header.set_num_trajectories(n);
  std::string group_key =
      GroupKey({group.run_id(), group.step(), group.prompt_id(), group.attempt()});
  pending.id_key = GroupIdKey(group.prompt_id(), group.attempt());
  pending.puts.push_back({Cf::kGroups, group_key, Deterministic(header)});
  pending.puts.push_back({Cf::kGroups, pending.id_key, std::move(group_key)});
  pending.trajectories = n;
  group_committer_.Run(&pending, [this](const std::vector<GroupCommitter::Request*>& batch) {
    CommitGroups(batch);
  });
  return pending.result;
}

void Store::CommitGroups(const std::vector<GroupCommitter::Request*>& requests) {
  std::lock_guard<std::mutex> lock(write_mu_);
  proto::StoreCounts counts = counts_;
  Batch batch(*db_);
  std::vector<PendingGroup*> written;
  std::set<absl::string_view> ids;  // of this batch: a duplicate within it is not written twice
  for (GroupCommitter::Request* request : requests) {
    auto* p = static_cast<PendingGroup*>(request);
    absl::StatusOr<bool> exists = Exists(Cf::kGroups, p->id_key);
    if (!exists.ok() || *exists || !ids.insert(p->id_key).second) {
      p->result = exists.ok() ? absl::StatusOr<bool>(false) : exists.status();
      continue;
    }
    for (const PendingGroup::Put& put : p->puts) batch.Put(put.cf, put.key, put.value);
    counts.set_groups(counts.groups() + 1);
    counts.set_trajectories(counts.trajectories() + p->trajectories);
    counts.set_trajectory_tokens(counts.trajectory_tokens() + p->tokens);
    written.push_back(p);
  }
  if (written.empty()) return;
  absl::Status status = batch.status();
  if (status.ok()) status = CommitWithCounts(batch.batch(), counts);
  for (PendingGroup* p : written) {
    p->result = status.ok() ? absl::StatusOr<bool>(true) : status;
  }
}

absl::Status Store::SetGroupStep(uint64_t prompt_id, uint32_t attempt, int64_t step) {
  std::lock_guard<std::mutex> lock(write_mu_);
  const std::string id_key = GroupIdKey(prompt_id, attempt);
  ASSIGN_OR_RETURN(std::string old_key, db_->Get(Cf::kGroups, id_key));
  ASSIGN_OR_RETURN(GroupKeyParts parts, DecodeGroupKey(old_key));
  if (parts.step == step) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::string value, db_->Get(Cf::kGroups, old_key));
  proto::Group header;
  RETURN_IF_ERROR(ParseValue(*db_, Cf::kGroups, old_key, value, &header));
  header.set_step(step);
  parts.step = step;
  const std::string new_key = GroupKey(parts);
  Batch batch(*db_);
  batch.Delete(Cf::kGroups, old_key);
  batch.Put(Cf::kGroups, new_key, Deterministic(header));
  batch.Put(Cf::kGroups, id_key, new_key);
  RETURN_IF_ERROR(batch.status());
  return CommitWithCounts(batch.batch(), counts_);
}

absl::Status Store::ReadTrajectories(proto::Group* group, const Database::ReadView* view) const {
  const std::string prefix = TrajectoryGroupPrefix(group->prompt_id(), group->attempt());
  absl::Status inner;
  RETURN_IF_ERROR(db_->Scan(
      Cf::kTrajectories, prefix, PrefixEnd(prefix),
      [&](absl::string_view key, absl::string_view value) {
        inner = ParseValue(*db_, Cf::kTrajectories, key, value, group->add_trajectories());
        return inner.ok();
      },
      view));
  RETURN_IF_ERROR(inner);
  if (group->trajectories_size() != static_cast<int>(group->num_trajectories())) {
    return absl::DataLossError(absl::StrCat(
        "store ", db_->dir(), ": group prompt=", group->prompt_id(), " attempt=", group->attempt(),
        " is incomplete: its header says ", group->num_trajectories(), " trajectories, found ",
        group->trajectories_size()));
  }
  return absl::OkStatus();
}

absl::StatusOr<proto::Group> Store::GetGroup(uint64_t prompt_id, uint32_t attempt,
                                             bool with_trajectories) const {
  auto view = db_->NewReadView();
  ASSIGN_OR_RETURN(std::string group_key,
                   db_->Get(Cf::kGroups, GroupIdKey(prompt_id, attempt), view.get()));
  ASSIGN_OR_RETURN(std::string value, db_->Get(Cf::kGroups, group_key, view.get()));
  proto::Group group;
  RETURN_IF_ERROR(ParseValue(*db_, Cf::kGroups, group_key, value, &group));
  if (with_trajectories) RETURN_IF_ERROR(ReadTrajectories(&group, view.get()));
  return group;
}

absl::Status Store::ScanGroups(const GroupQuery& query, const Visitor<proto::Group>& visit) const {
  std::string begin, end;
  if (query.run_id.has_value()) {
    begin = GroupRunStepPrefix(*query.run_id, query.step_from);
    end = PrefixEnd(GroupRunStepPrefix(*query.run_id, query.step_to));
  } else {
    begin = std::string(1, kGroupTag);
    end = PrefixEnd(begin);
  }
  auto view = db_->NewReadView();
  absl::Status inner;
  RETURN_IF_ERROR(db_->Scan(
      Cf::kGroups, begin, end,
      [&](absl::string_view key, absl::string_view value) {
        absl::StatusOr<GroupKeyParts> parts = DecodeGroupKey(key);
        if (!parts.ok()) {
          inner = parts.status();
          return false;
        }
        if (parts->step < query.step_from || parts->step > query.step_to) return true;
        proto::Group group;
        inner = ParseValue(*db_, Cf::kGroups, key, value, &group);
        if (inner.ok() && query.with_trajectories) inner = ReadTrajectories(&group, view.get());
        return inner.ok() && visit(group);
      },
      view.get()));
  return inner;
}

absl::Status Store::ScanTrajectories(const Visitor<proto::Trajectory>& visit) const {
  const std::string prefix(1, kTrajectoryTag);
  return ScanRecords(Cf::kTrajectories, prefix, PrefixEnd(prefix), visit);
}

// ---- quarantine --------------------------------------------------------------------------------

absl::Status Store::RemoveGroupInto(uint64_t prompt_id, uint32_t attempt,
                                    rocksdb::WriteBatch* batch, proto::StoreCounts* counts) {
  const std::string id_key = GroupIdKey(prompt_id, attempt);
  ASSIGN_OR_RETURN(std::string group_key, db_->Get(Cf::kGroups, id_key));
  std::vector<std::string> keys;
  uint64_t tokens = 0;
  absl::Status inner;
  const std::string prefix = TrajectoryGroupPrefix(prompt_id, attempt);
  RETURN_IF_ERROR(db_->Scan(Cf::kTrajectories, prefix, PrefixEnd(prefix),
                            [&](absl::string_view key, absl::string_view value) {
                              proto::Trajectory t;
                              inner = ParseValue(*db_, Cf::kTrajectories, key, value, &t);
                              tokens += t.token_ids_size();
                              keys.emplace_back(key);
                              return inner.ok();
                            }));
  RETURN_IF_ERROR(inner);
  rocksdb::Status s = batch->Delete(db_->handle(Cf::kGroups), group_key);
  if (s.ok()) s = batch->Delete(db_->handle(Cf::kGroups), id_key);
  for (size_t i = 0; s.ok() && i < keys.size(); ++i) {
    s = batch->Delete(db_->handle(Cf::kTrajectories), keys[i]);
  }
  RETURN_IF_ERROR(FromRocks(s, "building a store write"));
  counts->set_groups(counts->groups() - std::min<uint64_t>(counts->groups(), 1));
  counts->set_trajectories(counts->trajectories() -
                           std::min<uint64_t>(counts->trajectories(), keys.size()));
  counts->set_trajectory_tokens(counts->trajectory_tokens() -
                                std::min(counts->trajectory_tokens(), tokens));
  return absl::OkStatus();
}

absl::Status Store::Quarantine(const proto::QuarantinedGroup& record, bool remove_stored) {
  std::lock_guard<std::mutex> lock(write_mu_);
  proto::StoreCounts counts = counts_;
  rocksdb::WriteBatch batch;
  const proto::Group& g = record.group();
  if (remove_stored) RETURN_IF_ERROR(RemoveGroupInto(g.prompt_id(), g.attempt(), &batch, &counts));
  const uint64_t seq = next_quarantine_seq_;
  RETURN_IF_ERROR(
      FromRocks(batch.Put(db_->handle(Cf::kQuarantine),
                          QuarantineKey(seq, g.prompt_id(), g.attempt()), Deterministic(record)),
                "building a store write"));
  counts.set_quarantined(counts.quarantined() + 1);
  RETURN_IF_ERROR(CommitWithCounts(&batch, counts));
  next_quarantine_seq_ = seq + 1;
  return absl::OkStatus();
}

absl::Status Store::ScanQuarantine(const Visitor<proto::QuarantinedGroup>& visit) const {
  const std::string prefix(1, kQuarantineTag);
  return ScanRecords(Cf::kQuarantine, prefix, PrefixEnd(prefix), visit);
}

}  // namespace dsarl::store
