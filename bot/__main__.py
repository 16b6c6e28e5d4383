"""`python -m bot` is `cxbot`."""

from bot.entry import main

main()
