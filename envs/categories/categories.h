// The built-in categories, one file each in this folder. Each function returns the category's
// registry entry (registry.h); RegisterBuiltinCategories adds them all in a fixed order.
#ifndef DSARL_ENVS_CATEGORIES_CATEGORIES_H_
#define DSARL_ENVS_CATEGORIES_CATEGORIES_H_

#include "envs/registry.h"

namespace dsarl::envs {

// Reasoning, single turn (five levels each, 0..4).
Category ArithmeticCategory();       // arithmetic: +, -, *, / expressions, 1 to 3 digits
Category CountingCategory();         // counting: letters, words, items with a property
Category SortingCategory();          // sorting: numbers and words, either order
Category StringTransformCategory();  // string_transform: reverse, case, vowels, rotations
Category CipherCategory();           // cipher: Caesar, Atbash, Vigenere, encode and decode
Category BaseConversionCategory();   // base_conversion: bases 2 to 16, binary addition
Category DateArithmeticCategory();   // date_arithmetic: weekdays, adding days, differences
Category UnitConversionCategory();   // unit_conversion: length, mass, time, temperature, speed
Category NumberSequenceCategory();   // number_sequence: next term of a hidden rule
Category LogicGridCategory();        // logic_grid: who owns what, from clues (unique solution)
Category ShortestPathCategory();     // shortest_path: weighted graphs
Category KnapsackCategory();         // knapsack: best value within a weight limit

// General agent, multi-turn with tools over a synthesized database.
Category TripPlanningCategory();
Category ShopInventoryCategory();
Category CalendarSchedulingCategory();
Category LibraryLookupCategory();
Category CompanyDirectoryCategory();
// synthesized: a schema, database, tools and task families of its own per environment
// (envs/world).
Category SynthesizedCategory();

// Search over a synthesized corpus, and the code interpreter.
Category DocumentSearchCategory();
Category CodeInterpreterCategory();

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_CATEGORIES_CATEGORIES_H_
