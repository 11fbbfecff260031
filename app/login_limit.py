"""How often one client may guess the password: the app's login and TensorBoard's share this rule.

A client is an address (behind a reverse proxy every user is the proxy's address: a guesser there holds everyone up
for a while, which is the price of not trusting a forwarded header anyone can write). Each client has ATTEMPTS wrong
passwords in a row, then one more every REFILL_S seconds (a token bucket); a right password clears its count. While
it waits, no password is even tried, so a guesser learns nothing from an answer given then.
"""

from __future__ import annotations

import math
import threading
import time

ATTEMPTS = 10
REFILL_S = 6.0  # then at most 10 guesses a minute: a made password (24 random characters) is out of reach
MAX_CLIENTS = 10_000  # clients remembered at once; the oldest are forgotten first
WAIT_SENTENCE = "Too many wrong sign-ins from this address; try again in {seconds} second{s}."


def wait_sentence(seconds: int) -> str:
    return WAIT_SENTENCE.format(seconds=seconds, s="s"[:seconds != 1])


class LoginLimiter:
    def __init__(self, attempts: int = ATTEMPTS, refill_s: float = REFILL_S, clock=time.monotonic):
        self.attempts, self.refill_s, self.clock = attempts, refill_s, clock
        self._left: dict[str, tuple[float, float]] = {}  # client -> (attempts left, when counted)
        self._lock = threading.Lock()

    def _now_left(self, client: str) -> float:
        left, counted = self._left.get(client, (self.attempts, self.clock()))
        return min(self.attempts, left + (self.clock() - counted) / self.refill_s)

    def wait_s(self, client: str) -> int:
        """Whole seconds before `client` may try a password again; 0: now."""
        with self._lock:
            left = self._now_left(client)
        return 0 if left >= 1 else max(1, math.ceil((1 - left) * self.refill_s))

    def failed(self, client: str) -> None:
        with self._lock:
            left = self._now_left(client) - 1
            self._left.pop(client, None)  # re-inserted last: the dict's order is the order of use
            self._left[client] = (left, self.clock())
            while len(self._left) > MAX_CLIENTS:
                del self._left[next(iter(self._left))]

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._left.pop(client, None)
