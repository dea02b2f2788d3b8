"""What a message that mentions Pictune asks for: a hint, and options written ``name=value``.

``@Pictune a stormy sea mode=symbolic duration=45`` asks for the hint "a stormy sea", the
symbolic mode and 45 seconds; the options are checked later with everything else
(service/intake.py), only a duration that is no number is refused here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import InvalidOption

_MENTION = re.compile(r"<@([^>|]+)(?:\|[^>]*)?>")
_OPTION = re.compile(r"\b(mode|duration|seconds)\s*[=:]\s*(\S+)", re.IGNORECASE)


@dataclass
class MessageRequest:
    """What a message that mentions Pictune asks for."""

    hint: str | None = None
    mode: str | None = None
    duration: float | None = None


def parse_request(text: str) -> MessageRequest:
    """``@Pictune a stormy sea mode=symbolic duration=45`` -> hint, mode, duration."""
    text = _MENTION.sub(" ", text or "")
    found = MessageRequest()
    for name, value in _OPTION.findall(text):
        if name.lower() == "mode":
            found.mode = value.lower()
        else:
            try:
                found.duration = float(value.rstrip("sS"))
            except ValueError:
                raise InvalidOption(
                    "The duration must be a number of seconds, e.g. duration=30."
                ) from None
    hint = " ".join(_OPTION.sub(" ", text).split())
    found.hint = hint or None
    return found
