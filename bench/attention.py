"""Memory and time cost of attention maps (PICTUNE_ATTENTION_MAPS), with random-weight LLaVAs.

Three ways to run the same generation (same prompt: image tokens + text, same number of
generated tokens, greedy):

- ``off``     the default: SDPA attention, no weights kept.
- ``stream``  what Pictune does (engine/attention.py): eager attention in the text decoder,
              hooks that reduce each layer's weights at once to the image tokens.
- ``naive``   ``generate(output_attentions=True, return_dict_in_generate=True)``: every
              step's full attention tensors are kept, then reduced.

It also checks that ``stream`` and ``naive`` give the same heat map. Memory: on CUDA the
allocator's peak above what was allocated before the call; on CPU the peak resident memory
(sampled every 2 ms) above the level before the call, each mode in a fresh process whose
large allocations go through mmap (so freed tensors leave the resident set at once).

    python -m bench.attention --config medium            # CPU, a ~60M-parameter LLaVA
    python -m bench.attention --config llava-7b --device cuda   # LLaVA-1.5-7B's shape, fp16

Prints a table and writes bench/results/attention-<config>-<device>.json (or --out).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from engine.attention import normalise, recording, watching

CONFIGS: dict[str, dict[str, Any]] = {
    # The test suite's tiny LLaVA (32-pixel images, 4 patches, a 2-layer Llama).
    "tiny": dict(
        vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                    num_attention_heads=2, image_size=32, patch_size=16),
        text=dict(vocab_size=400, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=2, num_key_value_heads=2),
        prompt=27, generate=16,
    ),
    # CPU-sized: LLaVA-1.5's 576 image tokens, a small 8-layer decoder, a 1,000-token prompt.
    "medium": dict(
        vision=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                    num_attention_heads=2, image_size=336, patch_size=14),
        text=dict(vocab_size=2048, hidden_size=512, intermediate_size=1376, num_hidden_layers=8,
                  num_attention_heads=8, num_key_value_heads=8),
        prompt=1000, generate=32,
    ),
    # llava-hf/llava-1.5-7b-hf's shapes: CLIP ViT-L/14-336 and Llama-2-7B (32 layers, 32 heads),
    # a 1,500-token RAG prompt (576 image tokens) and 400 tokens of ABC out.
    "llava-7b": dict(
        vision=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                    num_attention_heads=16, image_size=336, patch_size=14),
        text=dict(vocab_size=32064, hidden_size=4096, intermediate_size=11008,
                  num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32),
        prompt=1500, generate=400,
    ),
}  # fmt: skip
IMAGE_TOKEN = 3
MODES = ("off", "stream", "naive")


def build(name: str, device: str, dtype: torch.dtype) -> tuple[Any, dict[str, Any]]:
    from transformers import LlavaConfig, LlavaForConditionalGeneration

    spec = CONFIGS[name]
    config = LlavaConfig(
        vision_config=dict(model_type="clip_vision_model", projection_dim=32, **spec["vision"]),
        text_config=dict(
            model_type="llama",
            max_position_embeddings=4096,
            bos_token_id=1,
            eos_token_id=2,
            pad_token_id=0,
            **spec["text"],
        ),
        image_token_index=IMAGE_TOKEN,
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = LlavaForConditionalGeneration._from_config(config, dtype=dtype)
    model.eval()
    side = spec["vision"]["image_size"] // spec["vision"]["patch_size"]
    n_image = side * side
    g = torch.Generator().manual_seed(1)
    text = torch.randint(10, spec["text"]["vocab_size"], (spec["prompt"] - n_image,), generator=g)
    cut = min(8, len(text))
    ids = torch.cat([text[:cut], torch.full((n_image,), IMAGE_TOKEN), text[cut:]])[None]
    size = spec["vision"]["image_size"]
    inputs = {
        "input_ids": ids.to(device),
        "attention_mask": torch.ones_like(ids).to(device),
        "pixel_values": torch.randn(1, 3, size, size, generator=g).to(device, dtype),
    }
    return model, inputs


def heat_from_naive(attentions: Any, columns: torch.Tensor) -> np.ndarray:
    """The same reduction as engine/attention.py, from generate's returned attentions."""
    total = torch.zeros(len(columns), dtype=torch.float32, device=columns.device)
    for step in attentions:
        for layer in step:
            total += layer[0, :, -1, :].float().mean(0).index_select(0, columns)
    side = int(round(len(columns) ** 0.5))
    return normalise(total.cpu().numpy().reshape(side, side))


class RssPeak:
    """Peak resident memory of this process while the block runs (sampled)."""

    def __enter__(self) -> RssPeak:
        self.before = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss())
            time.sleep(0.002)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run_mode(
    model: Any, inputs: dict[str, Any], mode: str, new: int, device: str
) -> dict[str, Any]:
    kwargs = dict(max_new_tokens=new, min_new_tokens=new, do_sample=False, pad_token_id=0)
    decoder = model.get_decoder()
    columns = (inputs["input_ids"][0] == IMAGE_TOKEN).nonzero().flatten()
    out: dict[str, Any] = {"mode": mode}
    gc.collect()
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    meter = RssPeak()
    start = time.perf_counter()
    with meter, torch.inference_mode():
        if mode == "off":
            model.generate(**inputs, **kwargs)
        elif mode == "stream":
            with recording() as rec, watching(SimpleNamespace(model=model, processor=None), inputs):
                model.generate(**inputs, **kwargs)
            assert rec.map is not None, rec.note
            out["heat"] = rec.map.heat.tolist()
            out["steps"] = rec.map.steps
        else:
            previous = decoder.config._attn_implementation
            decoder.set_attn_implementation("eager")
            try:
                result = model.generate(
                    **inputs, **kwargs, output_attentions=True, return_dict_in_generate=True
                )
            finally:
                decoder.set_attn_implementation(previous)
            kept = sum(t.numel() * t.element_size() for step in result.attentions for t in step)
            out["kept_attention_bytes"] = kept
            out["heat"] = heat_from_naive(result.attentions, columns).tolist()
            del result
        if cuda:
            torch.cuda.synchronize()
    out["seconds"] = round(time.perf_counter() - start, 3)
    if cuda:
        out["peak_extra_bytes"] = torch.cuda.max_memory_allocated() - base
    else:
        out["peak_extra_bytes"] = meter.peak - meter.before
    return out


def formula(spec: dict[str, Any], bytes_per: int) -> dict[str, int]:
    """Bytes that generate(output_attentions=True) keeps: prefill P x P, then one row of
    P + t keys per later step, for every layer and head."""
    layers, heads = spec["text"]["num_hidden_layers"], spec["text"]["num_attention_heads"]
    p, g = spec["prompt"], spec["generate"]
    keys = p * p + sum(p + t for t in range(1, g))
    return {
        "naive_kept": layers * heads * keys * bytes_per,
        # stream: only a vector of image-token weights is kept, but eager attention
        # materialises one layer's prefill scores at a time: heads x P x P, as scores, masked
        # scores (model dtype) and the fp32 softmax (an estimate of eager's buffers).
        "stream_one_layer_prefill": heads * p * p * (2 * bytes_per + 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", choices=sorted(CONFIGS), default="medium")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", choices=MODES, help="one mode in this process (CPU runs)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    dtype = torch.float16 if cuda else torch.float32
    spec = CONFIGS[args.config]
    if args.only:
        model, inputs = build(args.config, args.device, dtype)
        run_mode(model, inputs, args.only, 2, args.device)  # warm-up: allocator, kernels
        print(json.dumps(run_mode(model, inputs, args.only, spec["generate"], args.device)))
        return
    results = []
    if cuda:  # the CUDA allocator's statistics are exact, so one process does
        model, inputs = build(args.config, args.device, dtype)
        for mode in MODES:  # warm-up: allocator, kernels
            run_mode(model, inputs, mode, 2, args.device)
        results = [run_mode(model, inputs, m, spec["generate"], args.device) for m in MODES]
    else:  # resident memory is not given back reliably: a fresh process per mode
        for mode in MODES:
            cmd = [sys.executable, "-m", "bench.attention", "--config", args.config,
                   "--device", args.device, "--only", mode]  # fmt: skip
            # Big allocations through mmap, so freed memory leaves the resident set at once
            # and the sampled peak follows the live tensors rather than malloc's caching.
            env = os.environ | {"MALLOC_MMAP_THRESHOLD_": "65536"}
            line = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
            results.append(json.loads(line.strip().splitlines()[-1]))
    heat = {r["mode"]: np.array(r.pop("heat")) for r in results if "heat" in r}
    agree = float(np.abs(heat["stream"] - heat["naive"]).max())
    report = {
        "config": args.config,
        "device": torch.cuda.get_device_name() if cuda else platform.processor() or "cpu",
        "dtype": str(dtype).removeprefix("torch."),
        "prompt_tokens": spec["prompt"],
        "generated_tokens": spec["generate"],
        "layers": spec["text"]["num_hidden_layers"],
        "heads": spec["text"]["num_attention_heads"],
        "modes": results,
        "formula_bytes": formula(spec, 2 if cuda else 4),
        "stream_vs_naive_max_heat_difference": agree,
    }
    print(f"{args.config} on {report['device']} ({report['dtype']}), prompt {spec['prompt']}, "
          f"{spec['generate']} generated")  # fmt: skip
    print(f"{'mode':8} {'seconds':>9} {'peak extra MiB':>15} {'kept MiB':>10}")
    for r in results:
        kept = r.get("kept_attention_bytes", 0) / 2**20
        print(
            f"{r['mode']:8} {r['seconds']:9.2f} {r['peak_extra_bytes'] / 2**20:15.1f} {kept:10.1f}"
        )
    print("formula (MiB):", {k: round(v / 2**20, 1) for k, v in report["formula_bytes"].items()})
    print(f"stream vs naive heat map: max difference {agree:.2e}")
    out = (
        args.out
        or Path(__file__).parent
        / "results"
        / f"attention-{args.config}-{args.device.split(':')[0]}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
