#!/usr/bin/env python3
"""A model with a Hugging Face tokenizer.json, as a user runs it: Hugging Face `tokenizers` trains a
byte-level BPE tokenizer (with SPEC §4's chat tokens added); `dsarl model init` with
model.tokenizer takes its vocabulary size and copies the file into the checkpoint; `dsarl sft
--data` trains on conversations with it (the loss falls); `dsarl model score` and `dsarl generate`
use the checkpoint's tokenizer (the ids score sees are the ids `tokenizers` gives); the RL path
refuses it by name, and a tokenizer without the chat tokens is refused by sft. Then the same with
DeepSeek-V3.2's chat encoding (model.chat_format=dsv32, generate --chat-format dsv32).

Usage: tokenizer_file_test.py DSARL_BINARY SOURCE_DIR
"""
import json
import os
import re
import subprocess
import sys
import tempfile

DSARL, SRC = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
Q = os.path.join(SRC, "configs", "quickstart.textproto")
try:
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
except ImportError:
    if os.environ.get("CI") in ("true", "1"):
        print("FAIL: missing prerequisite (CI=true makes this a failure): python package tokenizers")
        sys.exit(1)
    print("SKIP: missing prerequisite: python package tokenizers")
    sys.exit(77)

SPEC_TOKENS = ["<pad>", "<bos>", "<eos>", "<|User|>", "<|Assistant|>", "<think>", "</think>",
               "<function_calls>", "</function_calls>", "<invoke name=\"", "</invoke>",
               "<parameter name=\"", "</parameter>", "<function_results>", "</function_results>",
               "<result>", "</result>"]
CORPUS = [f"what is {a} plus {b}? the answer is {a + b}." for a in range(30) for b in range(30)]
failures = []


def run(args, expect_ok=True, cwd=None):
    p = subprocess.run([DSARL] + args, capture_output=True, text=True, timeout=600, cwd=cwd or SRC)
    if expect_ok and p.returncode != 0:
        raise SystemExit(f"FAIL: dsarl {' '.join(args)}: exit {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def train_tokenizer(path, specials):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    tok.save(path)
    return tok


def main():
    tmp = tempfile.mkdtemp(prefix="dsarl-tokenizer-file-")
    tok_path = os.path.join(tmp, "tokenizer.json")
    hf = train_tokenizer(tok_path, SPEC_TOKENS)
    vocab = hf.get_vocab_size()
    ck = os.path.join(tmp, "init")
    out = run(["model", "init", "--config", Q, "--set", f"model.tokenizer={tok_path}", "--out", ck])
    if f"vocab {vocab})" not in out.stdout:
        failures.append(f"model init: vocab does not follow the tokenizer ({vocab}): {out.stdout}")
    cfg = json.load(open(os.path.join(ck, "config.json")))
    if cfg["vocab_size"] != vocab or cfg["bos_token_id"] != hf.token_to_id("<bos>"):
        failures.append(f"config.json: vocab_size {cfg['vocab_size']}, bos {cfg['bos_token_id']}")
    if open(os.path.join(ck, "tokenizer.json")).read() != open(tok_path).read():
        failures.append("the checkpoint's tokenizer.json is not the model's tokenizer file")

    # model score: the ids it scores are <bos> + tokenizers' ids + <eos>.
    lines = ["what is 3 plus 4? the answer is 7.", "Grüße 世界 🙂 tabs\tand  spaces"]
    with open(os.path.join(tmp, "lines.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    scored = run(["model", "score", "--checkpoint", ck, "--input", os.path.join(tmp, "lines.txt")])
    rows = [json.loads(l) for l in scored.stdout.splitlines()]
    for line, row in zip(lines, rows):
        want = len(hf.encode(line, add_special_tokens=False).ids) + 1
        if row["tokens"] != want:
            failures.append(f"model score: {row['tokens']} tokens for {line!r}, tokenizers gives {want}")

    # sft on conversations: the loss falls, and the checkpoint keeps the tokenizer.
    data = os.path.join(tmp, "convs.jsonl")
    with open(data, "w") as f:
        for a in range(12):
            f.write(json.dumps({"messages": [
                {"role": "user", "content": f"what is {a} plus 2?"},
                {"role": "assistant", "reasoning": f"{a} + 2 = {a + 2}",
                 "content": f"the answer is {a + 2}."}]}) + "\n")
    sft_dir = os.path.join(tmp, "sft")
    sft = run(["sft", "--config", Q, "--set", f"model.checkpoint={ck}", "--set",
               f"output_dir={tmp}/run", "--set", "sft.steps=60", "--data", data, "--out", sft_dir])
    losses = [float(x) for x in re.findall(r"loss ([0-9.]+)", sft.stderr)]
    if len(losses) < 2 or not losses[-1] < 0.7 * losses[0]:
        failures.append(f"sft: the loss did not fall: {losses}\n{sft.stderr[-1500:]}")
    if open(os.path.join(sft_dir, "tokenizer.json")).read() != open(tok_path).read():
        failures.append("sft's checkpoint lost the tokenizer.json")
    gen = run(["generate", "--checkpoint", sft_dir, "--chat", "--prompt", "what is 5 plus 2?",
               "--temperature", "0", "--max-new-tokens", "24"])
    if not gen.stdout.strip():
        failures.append(f"generate printed nothing: {gen.stderr}")

    # The RL path refuses a tokenizer.json model by name; sft refuses one without chat tokens.
    rl = run(["run", "--config", Q, "--set", f"model.checkpoint={sft_dir}", "--set",
              f"output_dir={tmp}/rl"], expect_ok=False)
    if rl.returncode == 0 or "uses the byte tokenizer for now" not in rl.stdout + rl.stderr:
        failures.append(f"dsarl run took a tokenizer.json model: {rl.stderr[-800:]}")
    plain = os.path.join(tmp, "plain.json")
    train_tokenizer(plain, ["<bos>", "<eos>"])
    bad = run(["sft", "--config", Q, "--set", f"model.tokenizer={plain}", "--set",
               f"output_dir={tmp}/bad", "--set", "sft.steps=1", "--data", data, "--out",
               os.path.join(tmp, "bad")], expect_ok=False)
    if bad.returncode == 0 or "lacks \"<pad>\"" not in bad.stderr:
        failures.append(f"sft took a tokenizer without chat tokens: {bad.stderr[-800:]}")

    # DeepSeek-V3.2's encoding: sft and generate --chat with a tokenizer that has its tokens.
    ds_path = os.path.join(tmp, "deepseek.json")
    train_tokenizer(ds_path, ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>",
                              "<｜Assistant｜>", "<think>", "</think>", "<｜▁pad▁｜>"])
    ds_init = os.path.join(tmp, "ds_init")
    run(["model", "init", "--config", Q, "--set", f"model.tokenizer={ds_path}", "--out", ds_init])
    ds_sft = os.path.join(tmp, "ds_sft")
    ds = run(["sft", "--config", Q, "--set", f"model.checkpoint={ds_init}", "--set",
              "model.chat_format=dsv32", "--set", f"output_dir={tmp}/ds", "--set", "sft.steps=60",
              "--data", data, "--out", ds_sft])
    ds_losses = [float(x) for x in re.findall(r"loss ([0-9.]+)", ds.stderr)]
    if len(ds_losses) < 2 or not ds_losses[-1] < ds_losses[0]:
        failures.append(f"sft (dsv32): the loss did not fall: {ds_losses}")
    ds_gen = run(["generate", "--checkpoint", ds_sft, "--chat", "--chat-format", "dsv32",
                  "--prompt", "what is 5 plus 2?", "--temperature", "0", "--max-new-tokens", "24"])
    if "the answer is" not in ds_gen.stdout:
        failures.append(f"generate (dsv32) after sft did not answer: {ds_gen.stdout!r}")
    wrong = run(["sft", "--config", Q, "--set", f"model.checkpoint={ck}", "--set",
                 "model.chat_format=dsv32", "--set", f"output_dir={tmp}/w", "--set", "sft.steps=1",
                 "--data", data, "--out", os.path.join(tmp, "w")], expect_ok=False)
    if wrong.returncode == 0 or "needs the token" not in wrong.stderr:
        failures.append(f"sft (dsv32) took a tokenizer without its tokens: {wrong.stderr[-800:]}")
    rl_ds = run(["run", "--config", Q, "--set", "model.chat_format=dsv32", "--set",
                 f"output_dir={tmp}/rl_ds"], expect_ok=False)
    if rl_ds.returncode == 0 or "SPEC §4's format only" not in rl_ds.stdout + rl_ds.stderr:
        failures.append(f"dsarl run took model.chat_format=dsv32: {rl_ds.stderr[-800:]}")

    for f in failures:
        print("FAIL:", f)
    print(f"tokenizer_file: vocab {vocab}, sft loss {losses[0]:.3f} -> {losses[-1]:.3f}, "
          f"generate: {gen.stdout.strip()[:60]!r}; dsv32 sft loss {ds_losses[0]:.3f} -> {ds_losses[-1]:.3f}; generate (dsv32): "
          f"{ds_gen.stdout.strip()[:60]!r}; {len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
