#!/usr/bin/env python3
"""Bad input as an operator makes it by mistake: every probe must end in a clear message naming the
thing and a non-zero exit (1 or 2), never a crash, an abort or a run that "succeeds".

Usage: bad_input_test.py DSARL_BINARY SOURCE_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

DSARL, SRC = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
Q = os.path.join(SRC, "configs", "quickstart.textproto")
TMP = tempfile.mkdtemp(prefix="dsarl-bad-input-")
failures = []
count = 0


def probe(name, args, pattern, timeout=120):
    """Runs dsarl ARGS; the exit must be 1 or 2 and the output must match `pattern`."""
    global count
    count += 1
    try:
        p = subprocess.run([DSARL] + args, capture_output=True, text=True, timeout=timeout,
                           cwd=TMP)
    except subprocess.TimeoutExpired:
        failures.append(f"{name}: still running after {timeout} s")
        return
    out = p.stdout + p.stderr
    if p.returncode not in (1, 2):
        how = f"signal {-p.returncode}" if p.returncode < 0 else f"exit {p.returncode}"
        failures.append(f"{name}: {how} (want 1 or 2)\n{out[-2000:]}")
    elif not re.search(pattern, out):
        failures.append(f"{name}: output does not match /{pattern}/\n{out[-2000:]}")
    for crash in ("terminate called", "std::bad_alloc", "filesystem_error", "Aborted", "core dumped"):
        if crash in out:
            failures.append(f"{name}: output shows a crash ('{crash}')\n{out[-2000:]}")


def check(name, sets, pattern):
    probe(name, ["config", "check", Q] + [a for s in sets for a in ("--set", s)], pattern)


def run(name, sets, pattern, timeout=120):
    out_dir = os.path.join(TMP, "run-" + re.sub(r"\W+", "_", name))
    probe(name, ["run", "--config", Q, "--set", f"output_dir={out_dir}"] +
          [a for s in sets for a in ("--set", s)], pattern, timeout)


# Numbers that are not finite, from the file and from --set.
for field in ("learner.lr", "learner.eps_high", "learner.kl_coef"):
    check(f"{field}=inf", [f"{field}=inf"], re.escape(f"{field}: inf is not a finite number"))
check("lr=1e999", ["learner.lr=1e999"], r"--set learner.lr=1e999: learner.lr: inf is not a finite")
with open(os.path.join(TMP, "inf.textproto"), "w") as f:
    f.write('name: "x"\nlearner {\n  lr: inf\n}\n')
probe("lr: inf in a file", ["config", "check", os.path.join(TMP, "inf.textproto")],
      r"inf.textproto:3:3: learner.lr: inf is not a finite number")
run("run with lr=1e999", ["learner.lr=1e999"], r"learner.lr: inf is not a finite number")

# Names resolved against their registries.
check("unknown reward", ['rewards.components={name: "verifer"}'],
      r"rewards.components: no reward function named 'verifer'")
check("unknown reward parameter",
      ['rewards.components={name: "length_penalty" params {key: "max_tokens" value: "9"} '
       'params {key: "max_tokn" value: "3"}}'], r"max_tokn")
check("unknown category", ["envs.categories=arithmetic,nope"],
      r"envs.categories\[1\]: no category 'nope' is registered; known: .*arithmetic")
check("empty category", ["envs.categories=arithmetic,,sorting"],
      r"envs.categories\[1\]: is empty")
check("missing plugin", ["envs.plugin_paths=/nonexistent/libx.so"],
      r"envs.plugin_paths\[0\]: '/nonexistent/libx.so' is not a file")
run("run with an unknown reward", ['rewards.components={name: "verifer"}'], r"verifer")

# Paths and addresses.
check("empty output_dir", ["output_dir="], r"output_dir: must be set to a non-empty string")
probe("run with an empty output_dir", ["run", "--config", Q, "--set", "output_dir="],
      r"output_dir: must be set to a non-empty string")
check("output_dir under a file", ["output_dir=/etc/passwd/x"], r"'/etc/passwd' is not a directory")
check("output_dir in /proc", ["output_dir=/proc/dsarl"], r"cannot be created: '/proc'")
check("learner_listen port", ["cluster.learner_listen=127.0.0.1:99999"],
      r"cluster.learner_listen: address '127.0.0.1:99999': the port '99999' is not in \[0, 65535\]")
check("learner_listen syntax", ["cluster.learner_listen=localhost"], r"expected HOST:PORT")
check("remote env address", ["envs.remote_addresses=10.0.0.1"], r"envs.remote_addresses\[0\]")
probe("learner --listen port", ["learner", "--config", Q, "--set",
                                f"output_dir={TMP}/learner", "--listen", "127.0.0.1:99999"],
      r"--listen: address '127.0.0.1:99999'")

# Relations between fields.
check("heldout_fraction 1", ["envs.heldout_fraction=1"],
      r"envs.heldout_fraction: 1 is out of range \[0, 1\)")
check("context 16", ["model.max_position_embeddings=16"],
      r"model.max_position_embeddings: the context of 16 tokens cannot hold the longest prompt")
run("run with context 16", ["model.max_position_embeddings=16"],
    r"model.max_position_embeddings: the context of 16 tokens")
check("index_topk 0", ["model.index_topk=0"], r"model.index_topk: 0 is out of range \[1, ")

# Sizes that used to abort in std::bad_alloc or overflow an int.
check("eval.k 2e9", ["eval.k=2000000000"], r"eval.k: 2000000000 is out of range \[1, 65536\]")
check("group_size 2e9", ["rollout.group_size=2000000000"], r"rollout.group_size: 2000000000")
check("staleness overflow", ["learner.prompts_per_step=1000000", "learner.max_staleness=3000"],
      r"learner.max_staleness: 3000 is out of range")
big = ["model.n_layers=6000", "model.d_model=16384", "model.intermediate_size=65536"]
run("run a 12.7T-parameter model", big, r"model: the job needs about .* TiB of memory")
check("1e6 layers", ["model.n_layers=1000000"], r"model.n_layers: 1000000 is out of range")
probe("config from /dev/zero", ["config", "check", "/dev/zero"],
      r"/dev/zero: config file is larger than the limit of 16 MiB", timeout=30)
probe("config is a directory", ["config", "check", TMP], r"is a directory")

# The model from the command line.
ck = os.path.join(TMP, "ck")
subprocess.run([DSARL, "model", "init", "--config", Q, "--out", ck], check=True, capture_output=True)
with open(os.path.join(TMP, "lines.txt"), "w") as f:
    f.write("hello\n")
probe("generate --samples 1e8", ["generate", "--checkpoint", ck, "--prompt", "hi", "--samples",
                                 "100000000"], r"--samples must be in \[1, 65536\]")
probe("generate --attention warp", ["generate", "--checkpoint", ck, "--prompt", "hi",
                                    "--attention", "warp"], r"--attention: 'warp' is not")
probe("score --attention warp", ["model", "score", "--checkpoint", ck, "--input",
                                 os.path.join(TMP, "lines.txt"), "--attention", "warp"],
      r"--attention: 'warp'")
probe("score /dev/zero", ["model", "score", "--checkpoint", ck, "--input", "/dev/zero"],
      r"/dev/zero:1: a line of this input file is longer than the limit of 64 MiB", timeout=60)
probe("sft --data /dev/zero", ["sft", "--config", Q, "--set", f"output_dir={TMP}/sft",
                               "--set", "sft.steps=1", "--data", "/dev/zero"],
      r"/dev/zero.* is not a file|/dev/zero:1: a line", timeout=60)
probe("eval --k 2e9", ["eval", "--config", Q, "--set", f"output_dir={TMP}/eval", "--checkpoint",
                       ck, "--k", "2000000000"], r"--k: 2000000000 is out of range")
cfg_path = os.path.join(ck, "config.json")
original = json.load(open(cfg_path))
for key, value, pattern in (("num_hidden_layers", 1000000, r"num_hidden_layers is 1000000; it must be in"),
                            ("index_topk", 0, r"index_topk is 0"),
                            ("hidden_size", 1 << 30, r"hidden_size"),
                            ("num_hidden_layers", 60000, r"needs about .* of memory")):
    broken = dict(original, **{key: value})
    if key == "num_hidden_layers":  # the per-layer lists must follow, or they contradict it
        broken.pop("mlp_layer_types", None)
    if key == "num_hidden_layers" and value == 60000:
        broken["hidden_size"] = 8192
    json.dump(broken, open(cfg_path, "w"))
    probe(f"config.json {key}={value}", ["model", "score", "--checkpoint", ck, "--input",
                                         os.path.join(TMP, "lines.txt")], pattern)
json.dump(original, open(cfg_path, "w"))

# A 12.7T-parameter model is still described, with positive counts.
p = subprocess.run([DSARL, "model", "info", "--config", Q] + [a for s in big for a in ("--set", s)],
                   capture_output=True, text=True)
count += 1
counts = [int(m) for m in re.findall(r"^\s+\S.*?\s(-?\d+)$", p.stdout, re.M)]
if p.returncode != 0 or not counts or min(counts) <= 0 or max(counts) < 12_000_000_000_000:
    failures.append(f"model info of 12.7T parameters: rc {p.returncode}, counts {counts}")

shutil.rmtree(TMP, ignore_errors=True)
for f in failures:
    print("FAIL:", f)
print(f"{count - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
