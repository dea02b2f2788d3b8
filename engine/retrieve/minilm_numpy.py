"""all-MiniLM-L6-v2 forward pass in NumPy, for answering queries on the CPU.

Importing sentence-transformers (and with it transformers and torch) costs 4-10 s on these
small machines, while the model itself is six small BERT layers. This module reads the same
``model.safetensors`` and ``tokenizer.json`` from the packaged model folder and computes the
same sentence embedding (mean pooling over tokens, then L2 normalisation) with the Rust
tokenizer and NumPy, so a fresh ``pictune compose`` answers its query in milliseconds.
Tests check it agrees with sentence-transformers to float precision.
"""

from __future__ import annotations

import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from scipy.special import erf
from threadpoolctl import threadpool_limits

MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
BATCH = 32  # texts per forward pass
MAX_WORKERS = 4  # threads, each running one batch at a time


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact (erf) GELU, in float32."""
    return 0.5 * x * (1.0 + erf(x * np.float32(1.0 / math.sqrt(2.0))))


class NumpyMiniLM:
    """A BERT encoder + mean pooling, enough for all-MiniLM-L6-v2."""

    name = "minilm"

    def __init__(self, model_dir: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((model_dir / "config.json").read_text())
        self.dim = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.w = load_file(str(model_dir / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        # Each linear layer's weight transposed once into a contiguous (in, out) matrix.
        self._linear = {
            name[: -len(".weight")]: (
                np.ascontiguousarray(value.T, dtype=np.float32),
                self.w[name[: -len(".weight")] + ".bias"].astype(np.float32),
            )
            for name, value in self.w.items()
            if name.endswith(".weight") and value.ndim == 2 and "embeddings" not in name
        }

    def _dense(self, h: np.ndarray, name: str) -> np.ndarray:
        weight, bias = self._linear[name]
        return h @ weight + bias

    def _encode_batch(self, batch: list[list[int]]) -> np.ndarray:
        """Token ids of a few texts -> their mean-pooled last hidden states, (texts, dim).

        The texts are padded to the longest; padded keys are masked out of attention as
        BERT does (a large negative score, so their softmax weight is exactly zero) and
        left out of the mean, so each row equals that text encoded alone.
        """
        w = self.w
        count, length = len(batch), max(len(ids) for ids in batch)
        ids = np.zeros((count, length), dtype=np.int64)
        mask = np.zeros((count, length), dtype=np.float32)
        for i, row in enumerate(batch):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1.0
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(
            x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps
        ).reshape(count * length, self.dim)
        head_dim = self.dim // self.heads
        key_mask = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]

        def heads(
            h: np.ndarray,
        ) -> np.ndarray:  # (count*length, dim) -> (count, heads, length, head_dim)
            return h.reshape(count, length, self.heads, head_dim).transpose(0, 2, 1, 3)

        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            q = heads(self._dense(x, p + "attention.self.query"))
            k = heads(self._dense(x, p + "attention.self.key"))
            v = heads(self._dense(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(head_dim)) + key_mask
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(count * length, self.dim)
            x = _layer_norm(
                x + self._dense(context, p + "attention.output.dense"),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            hidden = _gelu(self._dense(x, p + "intermediate.dense"))
            x = _layer_norm(
                x + self._dense(hidden, p + "output.dense"),
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
                self.eps,
            )
        x = x.reshape(count, length, self.dim)
        return (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encoded = [enc.ids for enc in self.tokenizer.encode_batch(list(texts))]
        # Similar lengths batched together: little padding, so little wasted work.
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        batches = [order[start : start + BATCH] for start in range(0, len(order), BATCH)]
        out = np.empty((len(encoded), self.dim), dtype=np.float32)

        def run(chosen: list[int]) -> None:
            out[chosen] = self._encode_batch([encoded[i] for i in chosen])

        workers = min(len(batches), len(os.sched_getaffinity(0)), MAX_WORKERS)
        if workers <= 1:
            for chosen in batches:
                run(chosen)
        else:
            # One batch per core, each on a single-threaded BLAS (NumPy releases the GIL in
            # its kernels): OpenBLAS's own threads spin-wait, which on a busy two-core
            # machine was measured 2-3x slower than one thread.
            with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
                list(pool.map(run, batches))
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
