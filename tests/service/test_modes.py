"""Only the modes this configuration can run are accepted: the settings, the intake (so
the bots and the CLI) and the job service say the same clear sentence."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.config import Settings
from engine.errors import InvalidOption
from service import intake


def test_the_modes_follow_the_musicgen_models() -> None:
    bare = Settings(_env_file=None)
    assert bare.available_modes() == ("symbolic",)
    both = Settings(
        _env_file=None, musicgen="hf:facebook/musicgen-small", musicgen_melody="hf:x/melody"
    )
    assert both.available_modes() == ("symbolic", "audio", "hybrid")


def test_a_mode_without_its_model_is_refused_clearly() -> None:
    bare = Settings(_env_file=None)
    with pytest.raises(InvalidOption) as refused:
        intake.check_mode("audio", bare)
    assert refused.value.user_message == (
        "The audio mode needs a MusicGen model, which this Pictune does not have: use symbolic."
    )
    with pytest.raises(InvalidOption, match="MusicGen-melody"):
        intake.check_mode(None, bare, default="hybrid")  # a workspace's old default too
    assert intake.check_mode("Symbolic", bare) == "symbolic"
    configured = Settings(_env_file=None, musicgen="hf:facebook/musicgen-small")
    assert intake.check_mode("audio", configured) == "audio"


def test_pictune_mode_must_be_one_the_deployment_can_run() -> None:
    with pytest.raises(ValidationError, match="PICTUNE_MUSICGEN"):
        Settings(_env_file=None, mode="audio")
    assert Settings(_env_file=None, mode="audio", musicgen="hf:m").mode == "audio"
