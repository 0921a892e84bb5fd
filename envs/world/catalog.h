// The catalog of domain parts that schemas are synthesized from: per domain a hub kind, two
// resource kinds, an actor kind and two item kinds, each with required and optional attributes.
// Internal to envs/world (schema.cc reads it).
#ifndef DSARL_ENVS_WORLD_CATALOG_H_
#define DSARL_ENVS_WORLD_CATALOG_H_

#include <array>
#include <string>
#include <vector>

namespace dsarl::envs::world {

// An entity kind as the catalog declares it. Attributes are written "name:type[:args]":
//   text:a|b|c   a text drawn from the pool      int:LO:HI, money:LO:HI   a number in range
//   date, time                                   enum:a|b|c, list:a|b|c   one / a few of the values
struct EntityPart {
  std::string kind, plural, prefix;
  std::vector<std::string> required;
  std::vector<std::string> optional;  // at most 4 (one shape bit each)
  std::vector<std::string> nouns;     // last words of names; empty for people
  std::string price;                  // resources: the name of their money attribute
};

struct DomainPart {
  std::string name;
  EntityPart hub;
  std::array<EntityPart, 2> resources;
  EntityPart actor;
  std::array<EntityPart, 2> items;
  std::array<std::string, 2> item_labels;  // how resources[0] relates to each item kind
  std::string verb;                        // the action on a resource ("book")
  std::string balance;                     // the actor's money attribute
};

// One function per domain, in two files (catalog_commerce.cc, catalog_community.cc).
DomainPart TravelDomain();
DomainPart RetailDomain();
DomainPart HealthDomain();
DomainPart EducationDomain();
DomainPart LogisticsDomain();
DomainPart FinanceDomain();
DomainPart SoftwareDomain();
DomainPart GovernmentDomain();
DomainPart DiningDomain();
DomainPart SportsDomain();
DomainPart EntertainmentDomain();
DomainPart RealEstateDomain();

// Every domain, in a fixed order.
const std::vector<DomainPart>& Catalog();

// Words names are made of.
const std::vector<std::string>& NameWords();
const std::vector<std::string>& FirstNames();
const std::vector<std::string>& LastNames();

}  // namespace dsarl::envs::world

#endif  // DSARL_ENVS_WORLD_CATALOG_H_
