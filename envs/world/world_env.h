// The Environment of a synthesized world (category `synthesized`): episodes run the derived
// tools on a private copy of the world's SQLite database and are verified by their final answer
// or by their end state against a replay of the reference actions.
#ifndef DSARL_ENVS_WORLD_WORLD_ENV_H_
#define DSARL_ENVS_WORLD_WORLD_ENV_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "envs/environment.h"
#include "envs/world/schema.h"

namespace dsarl::envs::world {

struct World;
class WorldTools;

class WorldEnvironment : public Environment {
 public:
  WorldEnvironment(proto::EnvSpec spec, std::shared_ptr<const World> world);
  ~WorldEnvironment() override;

  const proto::EnvSpec& spec() const override { return spec_; }
  absl::StatusOr<Episode> Reset(uint64_t seed, int level) const override;
  absl::StatusOr<StepResult> Step(EpisodeState* state,
                                  absl::Span<const ToolCall> calls) const override;
  absl::StatusOr<Verdict> Verify(const EpisodeState& state,
                                 absl::string_view final_answer) const override;
  std::string SchemaHash() const override { return hash_; }

  const Schema& schema() const;
  const World& world() const { return *world_; }
  const WorldTools& tools() const { return *tools_; }

 private:
  proto::EnvSpec spec_;
  std::shared_ptr<const World> world_;
  std::unique_ptr<WorldTools> tools_;
  std::string system_;
  std::string hash_;
};

// Builds the environment of `spec` (parameters "domain" and "shape", a hex code).
// InvalidArgument naming the environment for missing or bad parameters.
absl::StatusOr<std::unique_ptr<WorldEnvironment>> BuildWorldEnvironment(const proto::EnvSpec& spec);

}  // namespace dsarl::envs::world

#endif  // DSARL_ENVS_WORLD_WORLD_ENV_H_
