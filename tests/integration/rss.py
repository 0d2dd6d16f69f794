"""Peak memory of a server process tree while a transfer runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from servers import Server


class PeakRSS:
    """The baseline and the highest RSS seen while sampling."""

    def __init__(self, baseline: int) -> None:
        self.baseline = baseline
        self.peak = baseline

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.baseline) / (1024 * 1024)


@contextmanager
def sample_rss(server: Server, interval: float = 0.02) -> Iterator[PeakRSS]:
    """Sample ``server``'s RSS in a thread until the block ends."""
    result = PeakRSS(server.rss_bytes())
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(interval):
            result.peak = max(result.peak, server.rss_bytes())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join(timeout=5)
        result.peak = max(result.peak, server.rss_bytes())
