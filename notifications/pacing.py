"""Pacing to Slack's rate limits, so a burst for one channel or workspace waits its turn here
instead of running into 429s, while other channels and workspaces keep flowing."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Hashable


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: int = 1

    @classmethod
    def per_minute(cls, n: float, burst: int = 1) -> Rate:
        return cls(n / 60.0, burst)


class Pacer:
    """Token buckets by key. A caller reserves a slot in every bucket it needs at once (no await
    in between, so concurrent tasks cannot race) and then sleeps until the latest of them."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.monotonic = monotonic
        self.sleep = sleep
        self._next: dict[Hashable, float] = {}

    def reserve(self, needs: list[tuple[Hashable, Rate]]) -> float:
        """Seconds to wait before going ahead; the slots are taken."""
        # GCRA: a bucket's "theoretical arrival time" may run ahead of now by burst-1 intervals.
        now = self.monotonic()
        start = now
        for key, rate in needs:
            interval = 1.0 / rate.per_second
            start = max(start, self._next.get(key, now) - (rate.burst - 1) * interval)
        for key, rate in needs:
            self._next[key] = max(self._next.get(key, now), start) + 1.0 / rate.per_second
        return start - now

    async def wait(self, needs: list[tuple[Hashable, Rate]]) -> None:
        delay = self.reserve(needs)
        if delay > 0:
            await self.sleep(delay)


@dataclass(frozen=True)
class SlackPaces:
    """Slack's documented limits: chat.postMessage about one message per second per channel (with
    a workspace-wide cap), chat.update Tier 3 (about 50 a minute per workspace)."""

    post_per_channel: Rate = Rate(1.0)
    post_per_workspace: Rate = Rate.per_minute(300)
    update_per_workspace: Rate = Rate.per_minute(50)

    def needs(self, method: str, team: str | None, channel: str | None) -> list[tuple[Hashable, Rate]]:
        if method == "chat.postMessage":
            return [(("post", team, channel), self.post_per_channel), (("post", team), self.post_per_workspace)]
        if method == "chat.update":
            return [(("update", team), self.update_per_workspace)]
        return []
