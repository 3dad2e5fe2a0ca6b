"""Which replica of an endpoint gets the next request: never more than max_concurrency in
flight per URL, the least busy first (ties in turn), and a replica that stopped answering
left alone for a while when another one is up."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection


class ReplicaPool:
    """Slots on each URL of one endpoint. acquire() blocks until a slot is free on a URL worth
    trying; every acquire() must be paired with a release()."""

    def __init__(
        self,
        urls: tuple[str, ...],
        max_concurrency: int,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.urls, self.max_concurrency = urls, max_concurrency
        self.cooldown_s, self._clock = cooldown_s, clock
        self._changed = threading.Condition()
        self._in_flight = dict.fromkeys(urls, 0)
        self._down_until = dict.fromkeys(urls, float("-inf"))
        self._turn = 0

    def acquire(self, avoid: Collection[str] = ()) -> str:
        """A URL with a free slot, taken. `avoid`: URLs that already failed this request, tried
        again only when every URL has."""
        with self._changed:
            while True:
                candidates = self._worth_trying(avoid)
                free = [u for u in candidates if self._in_flight[u] < self.max_concurrency]
                if free:
                    url = self._least_busy(free)
                    self._in_flight[url] += 1
                    return url
                # Wake up at the latest when a replica's cooldown ends: it may be worth trying.
                self._changed.wait(timeout=self.cooldown_s or None)

    def release(self, url: str, answered: bool = True) -> None:
        """The request on `url` is over. `answered`: a server answered there (even with an
        error status); False when nothing did, which sets the URL aside for the cooldown."""
        with self._changed:
            self._in_flight[url] -= 1
            if answered:
                self._down_until[url] = float("-inf")
            else:
                self._down_until[url] = self._clock() + self.cooldown_s
            self._changed.notify_all()

    def in_flight(self, url: str) -> int:
        with self._changed:
            return self._in_flight[url]

    def another_up(self, avoid: Collection[str]) -> bool:
        """Some URL outside `avoid` is up: a retry can go there at once, without a backoff."""
        with self._changed:
            now = self._clock()
            return any(u not in avoid and self._down_until[u] <= now for u in self.urls)

    def _worth_trying(self, avoid: Collection[str]) -> list[str]:
        """Up and not yet tried by this request, else up, else not yet tried, else all."""
        now = self._clock()
        up = [u for u in self.urls if self._down_until[u] <= now]
        fresh = [u for u in self.urls if u not in avoid]
        return [u for u in up if u in fresh] or up or fresh or list(self.urls)

    def _least_busy(self, free: list[str]) -> str:
        fewest = min(self._in_flight[u] for u in free)
        n = len(self.urls)
        # Ties go round the URLs in order, starting after the last one chosen.
        for step in range(n):
            url = self.urls[(self._turn + step) % n]
            if url in free and self._in_flight[url] == fewest:
                self._turn = (self.urls.index(url) + 1) % n
                return url
        raise AssertionError("a free URL is always among the endpoint's URLs")
