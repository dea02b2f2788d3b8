"""The wish fields of Pictune's Slack forms, one rule for both: a hint and the options a
person may choose outright (style, tempo, key or mode, instruments), as optional text
inputs; read back from a view's state, each field not understood named with intake's
sentence (``response_action: errors``) so the person fixes it in place."""

from __future__ import annotations

from typing import Any

from bot.core import OPTION_FIELDS, WISH_FIELDS, OptionsForm
from engine.errors import PictuneError
from service import intake


def wish_blocks(
    form: OptionsForm, names: tuple[str, ...] = tuple(WISH_FIELDS)
) -> list[dict[str, Any]]:
    """Optional text inputs for ``names``, filled with ``form``'s values."""
    out = []
    for block_id in names:
        label, placeholder, longest = WISH_FIELDS[block_id]
        element: dict[str, Any] = {
            "type": "plain_text_input",
            "action_id": "value",
            "max_length": longest,
            "placeholder": {"type": "plain_text", "text": placeholder},
        }
        filled = getattr(form, block_id)
        if filled:
            element["initial_value"] = filled[:longest]
        out.append(
            {
                "type": "input",
                "block_id": block_id,
                "optional": True,
                "label": {"type": "plain_text", "text": label},
                "element": element,
            }
        )
    return out


def form_of(view: dict[str, Any]) -> OptionsForm:
    """What a submitted view's wish fields say (absent fields: empty)."""
    values = view.get("state", {}).get("values", {})
    text = {k: str((values.get(k, {}).get("value") or {}).get("value") or "") for k in WISH_FIELDS}
    return OptionsForm(**text)


def form_errors(form: OptionsForm) -> dict[str, str]:
    """Each field the form cannot be read with, and why (the sentence intake answers)."""
    errors = {}
    try:
        intake.check_hint(form.hint)
    except PictuneError as exc:
        errors["hint"] = exc.user_message
    for name in OPTION_FIELDS:
        try:
            intake.read_options(**{name: getattr(form, name)})
        except PictuneError as exc:
            errors[name] = exc.user_message
    return errors
