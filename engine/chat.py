"""One chat interface for language models, local or remote.

- ``HFChat``: a local transformers model with its chat template: a causal LM
  (``AutoModelForCausalLM`` + tokenizer) or a vision-language model
  (``AutoModelForImageTextToText`` + processor), which also sees an image.
- ``OpenAIChat``: any OpenAI-compatible server (vLLM, Ollama, llama.cpp server) through
  ``POST <base>/chat/completions``, with timeouts and bounded retries on connection errors,
  5xx and 429.

Model output is untrusted: generation is capped in tokens, and the text returned is cut at
``MAX_OUTPUT_CHARS`` whatever the model or server sends.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import random
import time
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from engine.attention import watching
from engine.config import Settings
from engine.errors import ConfigError, ModelOutputError, ModelUnavailable
from engine.weights import Loaded, guess_task, load_for, parse_ref

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

MAX_OUTPUT_CHARS = 16_000  # about 8 tunes' worth of ABC; anything longer is cut
MAX_RESPONSE_BYTES = 4_000_000  # a server's reply body beyond this is refused
MAX_TOKENS_CAP = 4096
DEFAULT_TIMEOUT = 120.0
DEFAULT_RETRIES = 2
IMAGE_SIDE = 768  # images sent to a server are shrunk to this, as PNG

Message = dict[str, Any]  # {"role": "system" | "user" | "assistant", "content": str}


class ChatModel(Protocol):
    name: str
    vision: bool  # whether chat() can be given an image

    def chat(
        self,
        messages: list[Message],
        *,
        image: Image.Image | None = None,
        max_tokens: int = 512,
        temperature: float = 0.7,
        seed: int | None = None,
    ) -> str: ...


def cut(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    """Endless output stops here."""
    return text if len(text) <= limit else text[:limit]


# ---------------------------------------------------------------- local transformers


class HFChat:
    """A local chat model. Thread-safe: generate calls on the shared weights take turns."""

    def __init__(self, loaded: Loaded, vision: bool) -> None:
        self.loaded = loaded
        self.vision = vision
        self.name = loaded.ref.short
        tokenizer = getattr(loaded.processor, "tokenizer", loaded.processor)
        template = getattr(loaded.processor, "chat_template", None) or getattr(
            tokenizer, "chat_template", None
        )
        if not template:
            raise ConfigError(
                detail=f"{self.name} has no chat template; use an instruct/chat model"
            )
        self.tokenizer = tokenizer

    def chat(
        self,
        messages: list[Message],
        *,
        image: Image.Image | None = None,
        max_tokens: int = 512,
        temperature: float = 0.7,
        seed: int | None = None,
    ) -> str:
        import torch

        max_tokens = max(1, min(int(max_tokens), MAX_TOKENS_CAP))
        model, device = self.loaded.model, self.loaded.device
        if self.vision:
            inputs = self._vision_inputs(messages, image)
        else:
            text = self.tokenizer.apply_chat_template(
                _plain(messages), add_generation_prompt=True, tokenize=False
            )
            inputs = self.tokenizer(text, return_tensors="pt", add_special_tokens=False)
        inputs = {k: _to(v, device, self.loaded.model.dtype) for k, v in inputs.items()}
        sampling = temperature > 0
        kwargs: dict[str, Any] = dict(max_new_tokens=max_tokens, do_sample=sampling)
        if sampling:
            kwargs.update(temperature=float(temperature), top_p=0.95)
        pad = self.tokenizer.pad_token_id
        kwargs["pad_token_id"] = pad if pad is not None else self.tokenizer.eos_token_id
        # watching: records attention maps when the composer asks (engine/attention.py).
        with self.loaded.lock, torch.inference_mode(), watching(self.loaded, inputs):
            if seed is not None:
                torch.manual_seed(int(seed))
            output = model.generate(**inputs, **kwargs)
        new = output[0, inputs["input_ids"].shape[1] :]
        return cut(self.tokenizer.decode(new, skip_special_tokens=True))

    def _vision_inputs(self, messages: list[Message], image: Image.Image | None) -> Any:
        """Messages in the content-list form VLM templates expect, the image in the first
        user turn; without an image the model is used as a text model."""
        shaped = []
        placed = image is None
        for m in messages:
            content: list[dict[str, str]] = []
            if not placed and m["role"] == "user":
                content.append({"type": "image"})
                placed = True
            content.append({"type": "text", "text": str(m["content"])})
            shaped.append({"role": m["role"], "content": content})
        processor = self.loaded.processor
        text = processor.apply_chat_template(shaped, add_generation_prompt=True, tokenize=False)
        images = [image.convert("RGB")] if image is not None else None
        return processor(text=[text], images=images, return_tensors="pt")


def _plain(messages: list[Message]) -> list[Message]:
    return [{"role": m["role"], "content": str(m["content"])} for m in messages]


def _to(value: Any, device: str, dtype: Any) -> Any:
    """Move a tensor to the device; floating ones (pixels) also to the model's dtype."""
    if not hasattr(value, "to"):
        return value
    if value.is_floating_point():
        return value.to(device=device, dtype=dtype)
    return value.to(device)


# ---------------------------------------------------------------- OpenAI-compatible HTTP


class OpenAIChat:
    """A chat model behind an OpenAI-compatible API.

    ``vision`` is off by default: many servers reject image parts; a reference ending in
    ``+vision`` (``openai:http://host/v1#qwen2-vl+vision``) sends the image as a data URL."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = 0.5,
        vision: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.vision = vision
        self.name = f"openai:{model}"
        self.retries = max(0, int(retries))
        self.backoff = backoff
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers=headers,
            transport=transport,
            follow_redirects=False,
        )

    def list_models(self) -> list[str]:
        """Model ids the server offers (for `pictune doctor`)."""
        data = self._request("GET", "/models", None)
        return [str(m.get("id")) for m in data.get("data", []) if isinstance(m, dict)]

    def chat(
        self,
        messages: list[Message],
        *,
        image: Image.Image | None = None,
        max_tokens: int = 512,
        temperature: float = 0.7,
        seed: int | None = None,
    ) -> str:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": self._messages(messages, image if self.vision else None),
            "max_tokens": max(1, min(int(max_tokens), MAX_TOKENS_CAP)),
            "temperature": float(temperature),
        }
        if seed is not None:
            body["seed"] = int(seed)
        data = self._request("POST", "/chat/completions", body)
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ModelOutputError(detail=f"{self.name}: reply has no message content") from exc
        if not isinstance(content, str):
            raise ModelOutputError(detail=f"{self.name}: message content is not text")
        return cut(content)

    def _messages(self, messages: list[Message], image: Image.Image | None) -> list[Message]:
        out = _plain(messages)
        if image is None:
            return out
        url = "data:image/png;base64," + base64.b64encode(_png(image)).decode()
        for m in out:
            if m["role"] == "user":
                m["content"] = [
                    {"type": "image_url", "image_url": {"url": url}},
                    {"type": "text", "text": m["content"]},
                ]
                break
        return out

    def _request(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        """One call with bounded retries: connection errors, timeouts, 429 and 5xx retry."""
        url = self.base_url + path
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self._delay(attempt, last))
            try:
                with self._client.stream(method, url, json=body) as response:
                    status = response.status_code
                    if status == 429 or status >= 500:
                        last = f"HTTP {status}" + _retry_after(response)
                        continue
                    payload = _read_capped(response)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                last = f"{type(exc).__name__}"
                continue
            if status >= 400:
                raise ModelUnavailable(
                    detail=f"{self.name}: HTTP {status}: {payload[:200].decode('utf-8', 'replace')}"
                )
            try:
                data = json.loads(payload)
            except ValueError as exc:
                raise ModelOutputError(detail=f"{self.name}: reply is not JSON") from exc
            if not isinstance(data, dict):
                raise ModelOutputError(detail=f"{self.name}: reply is not a JSON object")
            return data
        raise ModelUnavailable(
            detail=f"{self.name}: no answer after {self.retries + 1} attempts ({last})"
        )

    def _delay(self, attempt: int, last: str) -> float:
        if "retry-after=" in last:
            try:
                return min(float(last.split("retry-after=")[1]), 10.0)
            except ValueError:
                pass
        return self.backoff * 2 ** (attempt - 1) * (1 + 0.25 * random.random())

    def close(self) -> None:
        self._client.close()


def _retry_after(response: httpx.Response) -> str:
    value = response.headers.get("retry-after", "")
    return f" retry-after={value}" if value.strip().replace(".", "", 1).isdigit() else ""


def _read_capped(response: httpx.Response) -> bytes:
    buf = bytearray()
    for chunk in response.iter_bytes():
        buf += chunk
        if len(buf) > MAX_RESPONSE_BYTES:
            raise ModelOutputError(detail=f"reply larger than {MAX_RESPONSE_BYTES} bytes")
    return bytes(buf)


def _png(image: Image.Image) -> bytes:
    small = image.convert("RGB")
    small.thumbnail((IMAGE_SIDE, IMAGE_SIDE))
    buf = io.BytesIO()
    small.save(buf, format="PNG")
    return buf.getvalue()


# ---------------------------------------------------------------- factory


def load_chat_model(settings: Settings, reference: str, setting: str) -> ChatModel:
    """The chat model a reference names (``hf:`` or ``openai:``); weights load once."""
    ref = parse_ref(reference, setting)
    if ref.kind == "openai":
        model, _, flag = ref.model.partition("+")
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAIChat(
            ref.target,
            model,
            api_key=key,
            timeout=settings.llm_timeout,
            retries=settings.llm_retries,
            vision=flag == "vision",
        )
    if ref.kind != "hf":
        raise ConfigError(
            detail=f"PICTUNE_{setting.upper()}: {reference!r} is not a language model"
        )
    task = guess_task(ref)
    return HFChat(load_for(settings, reference, task, setting), vision=task == "image-text")
