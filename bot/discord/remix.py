"""✏️ Remix on Discord: the button opens a form (a modal) with the piece's own hint and
options filled in; sending it makes a new piece from the same picture with what the form
says, a child of the piece (service/requests.Requests.remix).

The modal lives in this process (discord.py keeps it by person and id for 15 minutes): a
form opened before a restart answers "expired" and the button opens a fresh one.
"""

from __future__ import annotations

import discord

from bot.core import WISH_FIELDS, OptionsForm, PictuneBot, PieceReply, user_message
from bot.discord.replies import core_of, requester_for, send_ephemeral
from bot.discord.versions import new_version
from engine.errors import PictuneError
from service import intake
from service.requests import ProgressSink
from storage.views import Requester

FORM_TIMEOUT = 900.0  # seconds a form stays answerable


class RemixModal(discord.ui.Modal):
    """Five fields (Discord's most): the wish, then the options, each optional."""

    def __init__(self, generation_id: str, defaults: OptionsForm) -> None:
        super().__init__(
            title=f"✏️ Remix {generation_id}",
            timeout=FORM_TIMEOUT,
            custom_id=f"pictune:remix-form:{generation_id}",
        )
        self.generation_id = generation_id
        self.fields: dict[str, discord.ui.TextInput[RemixModal]] = {}
        for name, (label, placeholder, longest) in WISH_FIELDS.items():
            field: discord.ui.TextInput[RemixModal] = discord.ui.TextInput(
                label=label if name == "hint" else f"{label} (optional)",
                placeholder=placeholder,
                default=getattr(defaults, name) or None,
                required=False,
                max_length=longest,
                custom_id=name,
            )
            self.fields[name] = field
            self.add_item(field)

    def form(self) -> OptionsForm:
        return OptionsForm(**{name: field.value for name, field in self.fields.items()})

    async def on_submit(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        await remix_submitted(interaction, self.generation_id, self.form())

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        await send_ephemeral(interaction, user_message(error))


async def open_remix(interaction: discord.Interaction, generation_id: str) -> None:
    """The ✏️ button: the form, filled with the piece's own wishes (NotFound if not theirs)."""
    core = core_of(interaction)
    defaults = core.remix_defaults(requester_for(interaction), generation_id)
    await interaction.response.send_modal(RemixModal(generation_id, defaults))


async def remix_submitted(
    interaction: discord.Interaction, generation_id: str, form: OptionsForm
) -> None:
    """The form was sent: refuse what it cannot be at once, else make the remix."""
    core = core_of(interaction)
    requester = requester_for(interaction)
    try:
        hint = intake.check_hint(form.hint)
        options = form.options()
        parent = core.library.find(requester, generation_id)
    except PictuneError as exc:
        await send_ephemeral(interaction, exc.user_message)
        return

    async def run(core: PictuneBot, who: Requester, gid: str, progress: ProgressSink) -> PieceReply:
        return await core.remix(who, gid, hint=hint, options=options, progress=progress)

    await new_version(interaction, parent.id, run)
