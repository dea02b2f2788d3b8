"""`pictune web`: serve the piece pages and the gallery; hand out and close share links.

    pictune web [--host H] [--port P]       serve (PICTUNE_WEB_HOST / PICTUNE_WEB_PORT)
    pictune web share pt-7f3a2c             print a new share link to one of your pieces
    pictune web unshare <link or token>     close a link at once
    pictune web unshare pt-7f3a2c           close every link you made to a piece

bot/cli.py lists this module in its command table by name (it imports it by string, like
every subcommand), so `bot` and `web` stay independent of each other.
"""

from __future__ import annotations

import argparse

from aiohttp import web

from engine.config import get_settings
from engine.errors import NotFound
from storage.shares import TOKEN_PATTERN, Shares
from storage.store import Store
from storage.views import Requester
from web.app import make_app


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("web", help="the web pages: serve them; share links to a piece")
    p.add_argument("--host", help="listen here (default PICTUNE_WEB_HOST)")
    p.add_argument("--port", type=int, help="listen on this port (default PICTUNE_WEB_PORT)")
    p.set_defaults(func=run_serve)
    actions = p.add_subparsers(dest="web_command", metavar="ACTION")
    share = actions.add_parser("share", help="print a new share link to one of your pieces")
    share.add_argument("id", help="the piece's id, e.g. pt-7f3a2c")
    share.set_defaults(func=run_share)
    unshare = actions.add_parser("unshare", help="close a share link (or all links to a piece)")
    unshare.add_argument("link", help="the link or its token, or a piece's id")
    unshare.set_defaults(func=run_unshare)


def run_serve(args: argparse.Namespace) -> int:
    settings = get_settings()
    host = args.host or settings.web_host
    port = settings.web_port if args.port is None else args.port
    with Store.open(settings) as store:
        app = make_app(settings, store)
        web.run_app(
            app,
            host=host,
            port=port,
            access_log=None,
            print=lambda _: print(f"pictune: web pages on http://{host}:{port}", flush=True),
        )
    return 0


def run_share(args: argparse.Namespace) -> int:
    settings = get_settings()
    me = Requester()  # the CLI's person: its own pieces, private ones included
    with Store.open(settings, semantic=False) as store:
        try:
            token = Shares(store.db).create(args.id, workspace=me.workspace, user_id=me.user_id)
        except NotFound as exc:
            raise NotFound(f"No finished piece {args.id} of yours to share.") from exc
    base = (settings.public_url or f"http://{settings.web_host}:{settings.web_port}").rstrip("/")
    print(f"{base}/s/{token}")
    return 0


def run_unshare(args: argparse.Namespace) -> int:
    settings = get_settings()
    me = Requester()
    token = args.link.rstrip("/").rsplit("/", 1)[-1]
    with Store.open(settings, semantic=False) as store:
        shares = Shares(store.db)
        if TOKEN_PATTERN.match(token):
            try:
                shares.revoke(token, user_id=me.user_id)
            except NotFound as exc:
                raise NotFound("No open share link of yours is that one.") from exc
            print("closed 1 link")
        else:
            print(f"closed {shares.revoke_all(args.link, user_id=me.user_id)} link(s)")
    return 0
