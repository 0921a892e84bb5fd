// The category registry and the list of built-in categories.
#include "envs/registry.h"

#include "absl/strings/str_cat.h"
#include "envs/categories/categories.h"

namespace dsarl::envs {

const char* CategoryKindName(CategoryKind kind) {
  switch (kind) {
    case CategoryKind::kReasoning:
      return "reasoning";
    case CategoryKind::kAgent:
      return "agent";
    case CategoryKind::kSearch:
      return "search";
    case CategoryKind::kCode:
      return "code";
    case CategoryKind::kExternal:
      return "external";
  }
  return "?";
}

absl::Status Registry::Add(Category category) {
  if (category.name.empty()) return absl::InvalidArgumentError("a category needs a name");
  if (!category.build) {
    return absl::InvalidArgumentError(absl::StrCat("category ", category.name, " has no build"));
  }
  if (by_name_.count(category.name) > 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("category ", category.name, " is already registered"));
  }
  categories_.push_back(std::make_unique<Category>(std::move(category)));
  by_name_[categories_.back()->name] = categories_.back().get();
  return absl::OkStatus();
}

const Category* Registry::Find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<const Category*> Registry::All() const {
  std::vector<const Category*> out;
  for (const auto& c : categories_) out.push_back(c.get());
  return out;
}

void RegisterBuiltinCategories(Registry* registry) {
  for (Category (*make)() :
       {ArithmeticCategory,      CountingCategory,         SortingCategory,
        StringTransformCategory, CipherCategory,           BaseConversionCategory,
        DateArithmeticCategory,  UnitConversionCategory,   NumberSequenceCategory,
        LogicGridCategory,       ShortestPathCategory,     KnapsackCategory,
        TripPlanningCategory,    ShopInventoryCategory,    CalendarSchedulingCategory,
        LibraryLookupCategory,   CompanyDirectoryCategory, DocumentSearchCategory,
        CodeInterpreterCategory, SynthesizedCategory}) {
    // Built-in names are distinct by construction; a clash is a programming error caught by the
    // registry tests.
    (void)registry->Add(make());
  }
}

}  // namespace dsarl::envs
