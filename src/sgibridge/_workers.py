"""A small bounded pool of worker threads for WSGI apps.

WSGIToASGI runs each WSGI call, its iteration and its ``close()`` as one job on
one worker thread (W2A-CLOSE-03, W2A-THR-01). The pool is bounded:
at most ``max_workers`` threads exist, extra jobs wait in a queue, and a
thread that stays idle for ``idle_timeout`` seconds exits, so an idle server
returns to its baseline thread count.

Submitting costs one ``SimpleQueue.put`` (and, while the pool grows, one
thread start): no future objects, no executor bookkeeping. Completion is
reported by the job itself through the body buffer's waiters, which is what
keeps a small request to one hand-off into the thread and one back.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import queue
import threading
from collections.abc import Callable

__all__ = ("WorkerPool",)

logger = logging.getLogger("sgibridge")
_counter = itertools.count(1)


class WorkerPool:
    """At most ``max_workers`` daemon threads running submitted jobs.

    :param max_workers: the bound on threads, and so on concurrent WSGI calls.
    :param idle_timeout: seconds after which an idle thread exits.
    """

    def __init__(self, max_workers: int, *, idle_timeout: float = 10.0) -> None:
        if max_workers < 1:
            raise ValueError(f"workers must be at least 1, got {max_workers!r}")
        self.max_workers = max_workers
        self._idle_timeout = idle_timeout
        self._jobs: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # idle threads not yet promised to a queued job
        self._backlog = 0  # queued jobs that no thread was promised to
        self._threads = 0
        self._name = f"sgibridge-worker-{next(_counter)}"

    @property
    def threads(self) -> int:
        """How many worker threads exist now."""
        return self._threads

    def submit(self, job: Callable[[], object]) -> None:
        """Run ``job`` on a worker thread in a copy of the caller's context
        (W2A-THR-02). Jobs must not raise."""
        context = contextvars.copy_context()
        with self._lock:
            if self._idle:
                self._idle -= 1
                spawn = False
            else:
                spawn = self._threads < self.max_workers
                if spawn:
                    self._threads += 1
                else:
                    self._backlog += 1
        self._jobs.put(lambda: context.run(job))
        if spawn:
            thread = threading.Thread(target=self._work, name=self._name, daemon=True)
            thread.start()

    def _work(self) -> None:
        jobs = self._jobs
        lock = self._lock
        while True:
            try:
                job = jobs.get(timeout=self._idle_timeout)
            except queue.Empty:
                with lock:
                    if self._idle:  # nobody was promised this thread: retire
                        self._idle -= 1
                        self._threads -= 1
                        return
                continue  # a job is on its way to this thread
            try:
                job()
            except BaseException:  # pragma: no cover - jobs handle their own errors
                logger.exception("sgibridge worker job raised")
            with lock:
                if self._backlog:  # this thread takes a job that waited for one
                    self._backlog -= 1
                else:
                    self._idle += 1
