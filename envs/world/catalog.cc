// The catalog: every domain in a fixed order, and the words generated names are made of.
#include "envs/world/catalog.h"

namespace dsarl::envs::world {
namespace {

std::vector<DomainPart> MakeCatalog() {
  return {TravelDomain(),    RetailDomain(),  HealthDomain(),        EducationDomain(),
          LogisticsDomain(), FinanceDomain(), SoftwareDomain(),      GovernmentDomain(),
          DiningDomain(),    SportsDomain(),  EntertainmentDomain(), RealEstateDomain()};
}

}  // namespace

const std::vector<DomainPart>& Catalog() {
  static const std::vector<DomainPart>* const catalog = new std::vector<DomainPart>(MakeCatalog());
  return *catalog;
}

const std::vector<std::string>& NameWords() {
  static const std::vector<std::string>* const words = new std::vector<std::string>{
      "North", "Harbor", "Maple", "Summit",  "River",   "Cedar",  "Golden", "Silver",
      "Oak",   "Lake",   "Pine",  "Sunset",  "Granite", "Willow", "Meadow", "Coral",
      "Aspen", "Iron",   "Bay",   "Crystal", "Amber",   "Beacon", "Copper", "Elm"};
  return *words;
}

const std::vector<std::string>& FirstNames() {
  static const std::vector<std::string>* const names = new std::vector<std::string>{
      "Ana",  "Ben",  "Chen",  "Dara",  "Eli",  "Fatima", "Goran", "Hana", "Ivan", "Jun",
      "Kofi", "Lena", "Mateo", "Nadia", "Omar", "Priya",  "Quinn", "Rosa", "Sven", "Tara"};
  return *names;
}

const std::vector<std::string>& LastNames() {
  static const std::vector<std::string>* const names = new std::vector<std::string>{
      "Abe",    "Brandt", "Costa",  "Duarte",   "Eriksen",   "Fischer", "Garcia",
      "Haddad", "Ito",    "Jensen", "Kowalski", "Lindqvist", "Moreau",  "Nakamura",
      "Okoro",  "Petrov", "Quist",  "Rahman",   "Silva",     "Tanaka"};
  return *names;
}

}  // namespace dsarl::envs::world
