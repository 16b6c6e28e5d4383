"""One module per workflow; each public function is one unit of work with its own transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from bot.domain.clock import Clock, SystemClock
from bot.domain.lost_sales import LostSalesPolicy
from bot.domain.reviews import ReviewPolicy
from bot.domain.rules import Rules
from storage.database import Database


@dataclass(frozen=True)
class Context:
    """What every service needs, built once in bot/app.py and passed explicitly."""

    db: Database
    rules: Rules = field(default_factory=Rules)
    clock: Clock = field(default_factory=SystemClock)
    # Called after a transaction queued notifications, so this process's dispatcher looks at
    # once; other replicas find the rows at their next poll.
    wake: Callable[[], None] = field(default=lambda: None)
    # Outbound channels that are configured ("slack", "mail"); nothing is queued for the others.
    channels: frozenset[str] = frozenset({"slack", "mail"})
    # Signs the tags in cxbot's mail addresses (CXBOT_MAIL_SECRET); replies are checked with it.
    mail_secret: bytes = b""
    bounce_limit: int = 3
    bounce_flag_days: int = 90
    # Public reviews (CXBOT_REVIEWS_*): the brands that publish them and the dealer's hold period.
    reviews: ReviewPolicy = field(default_factory=ReviewPolicy)
    # The lost-sales selection (CXBOT_LOST_SALES_*): its window and monthly run time.
    lost_sales: LostSalesPolicy = field(default_factory=LostSalesPolicy)
    # CXBOT_PUBLIC_URL: the absolute base of the links cxbot mails to customers.
    public_url: str = ""
