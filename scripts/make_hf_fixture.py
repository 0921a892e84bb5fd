#!/usr/bin/env python3
"""Writes tests/model/data/hf/{dense,moe}: small DeepSeek-V3.2 checkpoints saved by transformers'
own save_pretrained, with the per-token log-probs transformers computes for a few texts.

tests/model/hf_fixture_test.cc loads them with dsarl and compares, so CI checks that dsarl reads
transformers' files (rope_parameters with a non-default theta, YaRN, MoE) without installing
torch. Run from the repository root with transformers and torch installed:
    python3 scripts/make_hf_fixture.py [--out tests/model/data/hf]
Sparse log-probs use dsarl's tie rule (ties to the more recent key), as scripts/check_hf.py does.
"""
import argparse
import json
import os
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM, DeepseekV32Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_hf  # noqa: E402  (tie-rule alignment, log-probs, random weights)

TEXTS = ["hello world", "Grüße, 世界! 🙂", "def f(x):\n    return x * 2",
         " ".join(f"w{i}" for i in range(16))]


def config(kind):
    c = dict(vocab_size=320, hidden_size=32, intermediate_size=64, moe_intermediate_size=16,
             num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2, q_lora_rank=16,
             kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=4, v_head_dim=8,
             index_n_heads=2, index_head_dim=8, index_topk=8, n_routed_experts=0,
             n_shared_experts=0, num_experts_per_tok=1, first_k_dense_replace=2, n_group=1,
             topk_group=1, routed_scaling_factor=1.0, max_position_embeddings=128,
             bos_token_id=257, eos_token_id=258, pad_token_id=256,
             rope_parameters={"rope_type": "default", "rope_theta": 50000.0})
    if kind == "moe":
        c.update(n_routed_experts=4, n_shared_experts=1, num_experts_per_tok=2,
                 first_k_dense_replace=1, n_group=2, topk_group=1, routed_scaling_factor=2.5,
                 rope_parameters={"rope_type": "yarn", "rope_theta": 20000.0, "factor": 2.0,
                                  "original_max_position_embeddings": 64, "beta_fast": 32.0,
                                  "beta_slow": 1.0, "mscale": 1.0, "mscale_all_dim": 1.0})
    return DeepseekV32Config(**c)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="tests/model/data/hf")
    args = parser.parse_args()
    check_hf.align_tie_rule()
    for seed, kind in enumerate(["dense", "moe"]):
        torch.manual_seed(100 + seed)
        model = AutoModelForCausalLM.from_config(config(kind), dtype=torch.float32).eval()
        check_hf.randomize(model, 0.1)
        out = os.path.join(args.out, kind)
        model.save_pretrained(out)
        rows = [[257] + list(t.encode("utf-8")) + [258] for t in TEXTS]
        expected = {
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "sequences": [{
                "ids": r,
                "dense": check_hf.hf_logprobs(model, r, topk_override=128),
                "sparse": check_hf.hf_logprobs(model, r, topk_override=8),
            } for r in rows],
        }
        with open(os.path.join(out, "expected.json"), "w") as f:
            json.dump(expected, f, indent=1)
            f.write("\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
