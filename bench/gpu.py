"""Compute times of the neural stages with full-size architectures and random weights.

No weights are needed: MusicGen-small, BLIP-base and a 1.1B Llama (TinyLlama's shape) are
built from their configurations with random weights, which cost the same compute as trained
ones. Measured per stage: BLIP caption, LLM bridge description (60 tokens), LLM ABC
composition (400 tokens), MusicGen 10 s of audio, MusicGen batch-of-8 throughput, and the
whole image -> 10 s audio latency (caption + bridge + MusicGen); peak GPU memory per stage.

    python -m bench.gpu                      # on a GPU: full sizes, fp16
    python -m bench.gpu --device cpu --small # smoke check anywhere (tiny shapes)

Prints a table and writes bench/results/gpu.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def full_configs() -> dict[str, Any]:
    from transformers import (
        BlipConfig,
        EncodecConfig,
        LlamaConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        T5Config,
    )

    musicgen = MusicgenConfig(  # facebook/musicgen-small
        text_encoder=T5Config(vocab_size=32128, d_model=768, d_ff=3072, num_layers=12, num_heads=12, d_kv=64).to_dict(),
        audio_encoder=EncodecConfig(
            sampling_rate=32000, upsampling_ratios=[8, 5, 4, 4], codebook_size=2048,
            num_filters=64, hidden_size=128, num_lstm_layers=2, audio_channels=1, normalize=False,
        ).to_dict(),
        decoder=MusicgenDecoderConfig(
            vocab_size=2048, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
            ffn_dim=4096, num_codebooks=4, pad_token_id=2048, decoder_start_token_id=2048,
            bos_token_id=2048, max_position_embeddings=2048,
        ).to_dict(),
    )  # fmt: skip
    blip = BlipConfig()  # BLIP-base: ViT-B/16 at 384 px, BERT-base text decoder
    llm = LlamaConfig(  # TinyLlama-1.1B's shape
        vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
        num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=2048,
    )  # fmt: skip
    return {"musicgen": musicgen, "blip": blip, "llm": llm, "image_size": 384, "frame_rate": 50}


def small_configs() -> dict[str, Any]:
    from transformers import (
        BlipConfig,
        EncodecConfig,
        LlamaConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        T5Config,
    )

    musicgen = MusicgenConfig(
        text_encoder=T5Config(vocab_size=100, d_model=32, d_ff=64, num_layers=2, num_heads=2, d_kv=16).to_dict(),
        audio_encoder=EncodecConfig(
            sampling_rate=16000, num_filters=4, codebook_size=64, codebook_dim=8,
            upsampling_ratios=[8, 5, 4, 4], hidden_size=8, audio_channels=1,
        ).to_dict(),
        decoder=MusicgenDecoderConfig(
            vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, ffn_dim=64,
            num_codebooks=2, pad_token_id=64, decoder_start_token_id=64, bos_token_id=64,
        ).to_dict(),
    )  # fmt: skip
    tiny = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2)
    blip = BlipConfig(
        text_config={
            **tiny,
            "vocab_size": 1000,
            "bos_token_id": 1,
            "sep_token_id": 2,
            "pad_token_id": 0,
        },
        vision_config={**tiny, "image_size": 64, "patch_size": 16},
        projection_dim=32,
    )
    llm = LlamaConfig(vocab_size=1000, num_key_value_heads=2, **tiny)
    return {"musicgen": musicgen, "blip": blip, "llm": llm, "image_size": 64, "frame_rate": 25}


class Bench:
    def __init__(self, device: str, dtype: torch.dtype) -> None:
        self.device = device
        self.dtype = dtype
        self.rows: list[dict[str, Any]] = []

    def sync(self) -> None:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()

    def time(self, stage: str, fn: Callable[[], Any], repeats: int = 3, **extra: Any) -> float:
        fn()  # warm-up (kernels, caches)
        self.sync()
        if self.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            self.sync()
            times.append(time.perf_counter() - start)
        peak = torch.cuda.max_memory_allocated() / 2**30 if self.device.startswith("cuda") else None
        best = min(times)
        self.rows.append({"stage": stage, "seconds": round(best, 4),
                          "peak_gib": None if peak is None else round(peak, 2), **extra})  # fmt: skip
        print(f"{stage:<42} {best:8.3f} s" + (f"  {peak:6.2f} GiB" if peak is not None else ""))
        return best


def run(device: str, small: bool, repeats: int) -> dict[str, Any]:
    from transformers import (
        BlipForConditionalGeneration,
        LlamaForCausalLM,
        MusicgenForConditionalGeneration,
    )

    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    cfg = small_configs() if small else full_configs()
    bench = Bench(device, dtype)
    torch.manual_seed(0)

    def build(cls: Any, config: Any) -> Any:
        return cls(config).to(device=device, dtype=dtype).eval()

    blip = build(BlipForConditionalGeneration, cfg["blip"])
    llm = build(LlamaForCausalLM, cfg["llm"])
    musicgen = build(MusicgenForConditionalGeneration, cfg["musicgen"])
    side = cfg["image_size"]
    pixels = torch.rand(1, 3, side, side, device=device, dtype=dtype)
    prompt = torch.randint(5, 900, (1, 300), device=device)  # ~ a few-shot bridge prompt
    text = torch.randint(5, 90, (1, 16), device=device)
    ten_s = int(10 * cfg["frame_rate"])

    @torch.inference_mode()
    def caption() -> Any:
        return blip.generate(pixel_values=pixels, max_new_tokens=30, min_new_tokens=30)

    @torch.inference_mode()
    def describe(n: int = 60, ids: torch.Tensor = prompt) -> Any:
        return llm.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False)

    @torch.inference_mode()
    def audio(batch: int = 1) -> Any:
        return musicgen.generate(
            input_ids=text.repeat(batch, 1), max_new_tokens=ten_s, do_sample=True,
            guidance_scale=3.0,
        )  # fmt: skip

    bench.time("caption (BLIP, 30 tokens)", caption, repeats)
    bench.time("bridge (LLM, 300 in / 60 out tokens)", describe, repeats)
    bench.time("compose (LLM, 1500 in / 400 out tokens)",
               lambda: describe(400, torch.randint(5, 900, (1, 1500), device=device)), 1)  # fmt: skip
    one = bench.time("MusicGen, 10 s of audio, batch 1", audio, repeats)
    eight = bench.time("MusicGen, 10 s of audio, batch 8", lambda: audio(8), 1)
    latency = bench.time("image -> 10 s audio (caption+bridge+MusicGen)",
                         lambda: (caption(), describe(), audio()), 1)  # fmt: skip
    return {
        "device": torch.cuda.get_device_name(0)
        if device.startswith("cuda")
        else platform.processor() or "cpu",
        "torch": torch.__version__,
        "dtype": str(dtype).removeprefix("torch."),
        "small": small,
        "rows": bench.rows,
        "musicgen_realtime_factor_batch1": round(10 / one, 3),
        "musicgen_audio_seconds_per_second_batch8": round(80 / eight, 3),
        "image_to_10s_audio_seconds": round(latency, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--small", action="store_true", help="tiny shapes: a smoke check")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "gpu.json")
    args = parser.parse_args()
    result = run(args.device, args.small, max(1, args.repeats))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"\n{result['device']} ({result['dtype']}): wrote {args.out}")


if __name__ == "__main__":
    main()
