#!/usr/bin/env python3
"""`dsarl envs stats` on a small synthesized store: its --json numbers agree with what synthesize
reported and with each other (families sum to the tasks, categories to the environments, agent
categories have schemas and the others none); the tables print; a missing --store or a directory
that is not a store fails with a message naming it.

Usage: envs_stats_test.py DSARL_BINARY
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

DSARL = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="dsarl-envs-stats-")
failures = []


def check(name, ok, detail=""):
    print(("ok: " if ok else "FAIL: ") + name)
    if not ok:
        failures.append(f"{name} {detail}".strip())


def dsarl(*args):
    return subprocess.run([DSARL] + list(args), capture_output=True, text=True, timeout=300)


def kinds():
    """Category name -> kind, from `envs list`."""
    p = dsarl("envs", "list")
    out = {}
    for line in p.stdout.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2:
            out[parts[0]] = parts[1]
    return out


def synthesize(store):
    p = dsarl("envs", "synthesize", "--out", store, "--envs-per-category", "3",
              "--tasks-per-env", "5", "--seed", "3")
    check("envs synthesize exits 0", p.returncode == 0, p.stderr[-2000:])
    total = [line.split() for line in p.stdout.splitlines() if line.startswith("total ")]
    check("synthesize prints a total line", len(total) == 1, p.stdout[-2000:])
    return (int(total[0][1]), int(total[0][2])) if total else (-1, -1)


def check_numbers(s, envs, tasks, kind_of):
    check(f"environments = synthesized ({s['environments']} vs {envs})", s["environments"] == envs)
    check(f"tasks = synthesized ({s['tasks']} vs {tasks})", s["tasks"] == tasks)
    check("no task without its environment", s["tasks_without_environment"] == 0)
    fam_tasks = sum(f["tasks"] for f in s["families"])
    check(f"families sum to the tasks ({fam_tasks})", fam_tasks == tasks)
    names = [f["family"] for f in s["families"]]
    check("families sorted by name", names == sorted(names))
    cats = {c["category"]: c for c in s["categories"]}
    check("categories sum to the environments",
          sum(c["environments"] for c in cats.values()) == envs)
    agent = [n for n in cats if kind_of.get(n) == "agent"]
    check(f"there are agent categories ({len(agent)})", len(agent) >= 2)
    check("every agent category has a schema", all(cats[n]["distinct_schemas"] >= 1 for n in agent))
    check("no other category has a schema",
          all(c["distinct_schemas"] == 0 for n, c in cats.items() if n not in agent))
    with_schema = sum(cats[n]["environments"] for n in agent)
    check("environments without a schema = non-agent environments",
          s["environments_without_schema"] == envs - with_schema)
    check("distinct schemas at least one per agent category", s["distinct_schemas"] >= len(agent))
    check("(schema, toolset) pairs + duplicates = environments with a schema",
          s["distinct_schema_toolset_pairs"] + s["schema_toolset_duplicates"] == with_schema)
    for key in ("tools_per_environment", "task_types_per_environment"):
        m = s[key]
        check(f"{key}: 1 <= min <= mean <= max", 1 <= m["min"] <= m["mean"] <= m["max"], str(m))
    check("tool signatures at least the largest toolset",
          s["distinct_tool_signatures"] >= s["tools_per_environment"]["max"])
    check("toolsets at most the environments with tools",
          s["distinct_toolsets"] <= envs - s["environments_without_tools"])


def main():
    store = os.path.join(TMP, "store")
    envs, tasks = synthesize(store)
    p = dsarl("envs", "stats", "--store", store, "--json")
    check("envs stats --json exits 0", p.returncode == 0, p.stderr[-2000:])
    try:
        s = json.loads(p.stdout)
    except ValueError as e:
        check("envs stats --json prints one JSON object", False, f"{e}: {p.stdout[:500]}")
        return
    check_numbers(s, envs, tasks, kinds())
    again = dsarl("envs", "stats", "--store", store, "--json")
    check("envs stats is deterministic", again.stdout == p.stdout)
    t = dsarl("envs", "stats", "--store", store)
    check("envs stats prints the tables", t.returncode == 0 and "distinct schemas" in t.stdout
          and "family" in t.stdout and "toolsets" in t.stdout, t.stdout[-2000:] + t.stderr)
    h = dsarl("envs", "stats", "--help")
    check("envs stats --help names --json", "--json" in h.stdout + h.stderr)
    m = dsarl("envs", "stats")
    check("no --store: fails naming --store", m.returncode != 0 and "--store" in m.stderr,
          m.stderr)
    missing = os.path.join(TMP, "no-such-store")
    n = dsarl("envs", "stats", "--store", missing)
    check("a directory that is no store: fails naming it",
          n.returncode != 0 and missing in n.stdout + n.stderr, n.stderr)


try:
    main()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
if failures:
    print("\n".join(["", "FAILED:"] + failures))
    sys.exit(1)
print("all envs stats checks passed")
