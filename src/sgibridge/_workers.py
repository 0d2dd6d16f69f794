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

For operators (W2A-STAT-01) the pool counts its busy threads and queued jobs,
and knows since when every thread has been busy (saturation, W2A-STAT-02).
A thread whose request timed out (W2A-TIME-03) is *lost* until its job
returns: the pool may start one more thread for each lost one, at most
``max_workers`` more, so that hung apps cannot take the whole pool.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import queue
import threading
import time
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
        self._running = 0  # threads running a job now
        self._lost = 0  # threads stuck in a timed-out request
        self._saturated_since: float | None = None
        self._warned_since: float | None = None
        self._name = f"sgibridge-worker-{next(_counter)}"

    @property
    def threads(self) -> int:
        """How many worker threads exist now."""
        return self._threads

    def submit(self, job: Callable[[], object], max_queue: int | None = None) -> bool:
        """Run ``job`` on a worker thread in a copy of the caller's context
        (W2A-THR-02). Jobs must not raise.

        :param max_queue: refuse the job when this many already wait for a
            thread (W2A-TIME-05); ``None`` queues without bound.
        :return: ``False`` when the job was refused, else ``True``.
        """
        context = contextvars.copy_context()
        with self._lock:
            if self._idle:
                self._idle -= 1
                spawn = False
            else:
                spawn = self._threads < self.max_workers + min(
                    self._lost, self.max_workers
                )
                if spawn:
                    self._threads += 1
                else:
                    if max_queue is not None and self._backlog >= max_queue:
                        return False
                    self._backlog += 1
                    if self._saturated_since is None:
                        self._saturated_since = time.monotonic()
        self._jobs.put(lambda: context.run(job))
        if spawn:
            self._start_thread()
        return True

    def _start_thread(self) -> None:
        thread = threading.Thread(target=self._work, name=self._name, daemon=True)
        thread.start()

    # -- for operators ---------------------------------------------------

    def snapshot(self) -> dict[str, int]:
        """Threads and jobs now: ``workers`` (the bound), ``threads``,
        ``busy``, ``idle``, ``queued`` and ``lost``."""
        with self._lock:
            return {
                "workers": self.max_workers,
                "threads": self._threads,
                "busy": self._running,
                "idle": self._threads - self._running,
                "queued": self._backlog,
                "lost": self._lost,
            }

    def saturation(self, threshold: float) -> float | None:
        """How long every thread has been busy with jobs waiting, once per
        such episode and only past ``threshold`` seconds; else ``None``."""
        if self._saturated_since is None:  # the common case, read without the lock
            return None
        with self._lock:
            since = self._saturated_since
            if since is None or since == self._warned_since:
                return None
            age = time.monotonic() - since
            if age < threshold:
                return None
            self._warned_since = since
            return age

    def lose(self) -> None:
        """A job's thread is stuck in a request that timed out: count it lost,
        and start a thread in its place if jobs are waiting."""
        with self._lock:
            self._lost += 1
            spawn = bool(self._backlog) and self._threads < self.max_workers + min(
                self._lost, self.max_workers
            )
            if spawn:
                self._threads += 1
                self._backlog -= 1
        if spawn:
            self._start_thread()

    def found(self) -> None:
        """A lost thread's job returned."""
        with self._lock:
            self._lost -= 1

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
            with lock:
                self._running += 1
            try:
                job()
            except BaseException:  # pragma: no cover - jobs handle their own errors
                logger.exception("sgibridge worker job raised")
            with lock:
                self._running -= 1
                if self._backlog:  # this thread takes a job that waited for one
                    self._backlog -= 1
                else:
                    self._idle += 1
                    self._saturated_since = None
