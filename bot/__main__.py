"""`python -m bot` is `cxbot`."""

from bot.cli import main

main()
