"""A small process pool where every call has a deadline and every worker a memory bound.

``WorkerPool.run(call)`` sends a picklable ``call`` to an idle worker process and waits for
its answer in a thread, so the event loop never blocks. A call that runs past ``deadline``
seconds gets its worker killed (SIGKILL) and raises ``DeadlineExceeded``; a call that
needs more than ``memory_mb`` (the worker's ``RLIMIT_DATA``: heap and anonymous maps) raises
``OutOfMemory``; a worker that dies under a call raises ``WorkerDied``. Each time only
that worker is replaced: calls running in the others go on untouched. (A
``concurrent.futures.ProcessPoolExecutor`` cannot do this: it cannot stop one running
call, and one dead worker breaks the whole pool.)

Workers start on first use, from a forkserver where available (else spawn; both safe in a
process with threads) preloaded with ``preload`` modules. They run ``WORKER_NICENESS``
nicer than their owner and leave as soon as it is gone (SIGKILLed, say).

With ``MONITOR_PROFILE_WORKER=PATH`` in the owner's environment when a worker starts, that
worker runs its calls under cProfile and writes the stats to ``PATH.<pid>`` when it is
stopped (``close``): bench/pipeline.py ``--profile`` reads them.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import multiprocessing.connection
import os
import resource
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# Workers run this much nicer than the daemon: when the cores are all busy, the event loop
# (fetching, matching, storing, delivering, watchdog pings, the dashboard) gets its share
# first and the workers take the rest (bench/pipeline.py).
WORKER_NICENESS = 10
STOP_GRACE = 2.0  # seconds a worker gets to leave on close() before it is killed
_OUT_OF_MEMORY = 86  # a worker's exit status when a call did not even fit to be received
PROFILE_ENV = "MONITOR_PROFILE_WORKER"


class WorkerError(Exception):
    """A call could not finish in its worker; that worker was replaced."""


class DeadlineExceeded(WorkerError):
    """The call ran past its deadline."""


class OutOfMemory(WorkerError):
    """The call needed more memory than a worker may have."""


class WorkerDied(WorkerError):
    """The worker process died under the call."""


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    conn: Connection


class WorkerPool(Generic[T]):
    """Up to ``workers`` processes running calls that return ``T``, one call each at a time."""

    def __init__(self, workers: int, *, deadline: float, memory_mb: int,
                 preload: Sequence[str] = ()) -> None:
        self.workers = workers
        self.deadline = deadline
        self.memory_mb = memory_mb
        self.preload = list(preload)
        self._idle: list[_Worker] = []
        self._live: set[_Worker] = set()
        self._lock = threading.Lock()
        self._threads: ThreadPoolExecutor | None = None
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    async def run(self, call: Callable[[], T]) -> T:
        """``call()`` in a worker; raises what it raises, or a ``WorkerError``."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self.workers))
        async with self._slots[1]:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="worker")
            return await loop.run_in_executor(self._threads, self._call, call)

    def pids(self) -> tuple[int, ...]:
        """Process ids of the live workers; empty before first use."""
        with self._lock:
            return tuple(w.process.pid for w in self._live if w.process.pid is not None)

    def close(self) -> None:
        """Stop the workers (calls under way fail with ``WorkerDied``); ``run`` starts anew."""
        with self._lock:
            live, self._live, self._idle = list(self._live), set(), []
        for worker in live:
            try:
                worker.conn.send(None)
            except OSError:
                pass
        for worker in live:
            worker.process.join(STOP_GRACE)
            self._kill(worker)
        if self._threads is not None:
            self._threads.shutdown(wait=False)
            self._threads = None

    # -- in a thread of the pool ---------------------------------------------------------

    def _call(self, call: Callable[[], T]) -> T:
        worker, reused = self._take()
        try:
            return self._roundtrip(worker, call)
        except WorkerDied:
            if not reused:
                raise
        # the idle worker had died (killed while waiting, say): once more on a fresh one
        worker, _ = self._take(fresh=True)
        return self._roundtrip(worker, call)

    def _take(self, fresh: bool = False) -> tuple[_Worker, bool]:
        with self._lock:
            if self._idle and not fresh:
                return self._idle.pop(), True
        ours, theirs = _context(self.preload).Pipe()
        process = _context(self.preload).Process(
            target=_serve, args=(theirs, self.memory_mb, tuple(self.preload),
                                 os.environ.get(PROFILE_ENV)),
            name="monitor-worker", daemon=True)
        process.start()
        theirs.close()
        worker = _Worker(process, ours)
        with self._lock:
            self._live.add(worker)
        return worker, False

    def _roundtrip(self, worker: _Worker, call: Callable[[], T]) -> T:
        try:
            worker.conn.send(call)
            if not worker.conn.poll(self.deadline):
                self._kill(worker)
                raise DeadlineExceeded(f"still running after {self.deadline:g}s; worker "
                                       "replaced")
            status, value = worker.conn.recv()
        except (EOFError, OSError):
            worker.process.join(STOP_GRACE)
            self._kill(worker)
            status, value = "died", worker.process.exitcode
        if status == "memory" or value == _OUT_OF_MEMORY:
            self._kill(worker)
            raise OutOfMemory(f"needed more than {self.memory_mb} MB; worker replaced")
        if status == "died":
            raise WorkerDied(f"the worker died (exit status {value})")
        with self._lock:
            if worker in self._live:
                self._idle.append(worker)
        if status == "error":
            raise value
        result: T = value
        return result

    def _kill(self, worker: _Worker) -> None:
        with self._lock:
            self._live.discard(worker)
        if worker.process.exitcode is None:
            worker.process.kill()
            worker.process.join(STOP_GRACE)
        worker.conn.close()


def _serve(conn: Connection, memory_mb: int, preload: tuple[str, ...] = (),
           profile: str | None = None) -> None:
    """A worker: run each call received, send back ``(status, value)``, until told to stop.

    ``preload`` is imported first, in order, also when the forkserver was started by a pool
    with other preloads (the forkserver is one per process): a prelude module stays first."""
    _leave_with_owner()
    for module in preload:
        importlib.import_module(module)
    try:  # the event loop that feeds the workers goes first (see WORKER_NICENESS)
        os.nice(WORKER_NICENESS)
    except OSError:  # a sandbox without setpriority(2): same priority as the daemon
        pass
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    profiler = _profiler(profile)
    while True:
        try:
            call = conn.recv()
        except EOFError:
            call = None
        except MemoryError:  # the rest of the call is still in the pipe: start afresh
            os._exit(_OUT_OF_MEMORY)
        if call is None:
            if profiler and profile:
                profiler.dump_stats(f"{profile}.{os.getpid()}")
            return
        if profiler:
            profiler.enable()
        answer = _answer(call)
        if profiler:
            profiler.disable()
        try:
            conn.send(answer)
        except Exception as e:  # noqa: BLE001 - an answer that does not pickle
            conn.send(("error", RuntimeError(f"unpicklable answer: {e!r}")))


def _profiler(profile: str | None) -> Any:
    if not profile:
        return None
    import cProfile

    return cProfile.Profile()


def _answer(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", call()
    except MemoryError:
        return "memory", None
    except Exception as e:  # noqa: BLE001 - handed to the caller, who raises it
        return "error", e


def _leave_with_owner() -> None:
    """Exit as soon as the pool's owner is gone, even in the middle of a call.

    An orphaned worker would otherwise finish its call (or wait on its pipe) first, keeping
    the forkserver alive with it. The sentinel is a pipe the owner holds: closed when it dies.
    """
    owner = multiprocessing.parent_process()
    if owner is None or owner.sentinel is None:
        return
    sentinel = owner.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="owner-watch", daemon=True).start()


def _context(preload: list[str]) -> ForkServerContext | SpawnContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(preload)  # workers start with these imported
        return context
    return multiprocessing.get_context("spawn")
