"""The `cxbot` and `python -m bot` entry point.

Start-up imports some 900 modules whose objects live as long as the process. The cyclic garbage
collector would walk them over and over while they load, for nothing, so it stays off until they
are in and then leaves them out of later collections (gc.freeze)."""

from __future__ import annotations

import gc


def main() -> None:
    gc.disable()
    try:
        from bot.cli import main as cli
    finally:
        gc.freeze()
        gc.enable()
    cli()
