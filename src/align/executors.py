"""Where work runs: a local process pool or a Dask cluster, behind one small interface.

An :class:`Executor` runs ``fn(*args)`` somewhere and hands back a future. Data every task needs
(a scenario) is given once with :meth:`Executor.scatter`, which returns a handle to pass as a task
argument: the local pool installs it once in each worker process (an ``initializer``), Dask
broadcasts it once to each worker (``client.scatter(..., broadcast=True)``). Tasks then carry only
the handle and their small arguments.

``get_executor("local")``, ``get_executor("dask://host:8786")`` or an executor passed through.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import signal
import socket
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import ExecutorError

DASK_TIMEOUT_S = 5.0

# --- what a local worker process holds --------------------------------------------------------

_SHARED: dict[str, Any] = {}
_LOADS: Counter[str] = Counter()


@dataclass(frozen=True)
class Lazy:
    """A value made where it is used: ``fn(*args)``, called once per worker that needs it.

    A scenario folder scattered as ``Lazy(load_scenario, path)`` is read by each local worker
    process itself instead of being pickled to it. Dask executors call it once in the client.
    """

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def load(self) -> Any:
        return self.fn(*self.args, **self.kwargs)


@dataclass(frozen=True)
class Shared:
    """Handle of a value scattered to the workers of a :class:`LocalExecutor`."""

    key: str


def _install(shared: dict[str, Any]) -> None:
    """Initializer of each local worker process: make every shared value once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    for key, value in shared.items():
        _SHARED[key] = value.load() if isinstance(value, Lazy) else value
        _LOADS[key] += 1


def _call(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    resolved = [_SHARED[a.key] if isinstance(a, Shared) else a for a in args]
    return fn(*resolved)


def worker_stats() -> dict[str, Any]:
    """Who is running this task, and how often this process has made each shared value.

    ``loads`` counts the values a :class:`LocalExecutor` installed in this process; it is empty
    in a Dask worker (Dask moves scattered data itself).
    """
    worker = f"{socket.gethostname()}:{os.getpid()}"
    if "distributed" in sys.modules:
        try:
            worker = sys.modules["distributed"].get_worker().address
        except ValueError:  # not in a Dask worker
            pass
    return {"worker": worker, "loads": dict(_LOADS)}


# --- the interface ----------------------------------------------------------------------------


class Executor:
    """Runs tasks: ``scatter`` shared data once, ``submit`` tasks, collect ``as_completed``."""

    name = "executor"
    workers: int = 1
    threads_per_task: int = 1

    def scatter(self, value: Any) -> Any:
        """Send ``value`` (or a :class:`Lazy`) once to every worker; returns a task argument."""
        raise NotImplementedError

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on a worker; returns a future (``.result()``, ``.cancel()``)."""
        raise NotImplementedError

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        """The futures in the order they finish."""
        raise NotImplementedError

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any]) -> list[Any]:
        """``[fn(*args) for args in zip(*iterables)]``, run on the workers; results in order."""
        futures = [self.submit(fn, *args) for args in zip(*iterables, strict=True)]
        return [f.result() for f in futures]

    def cancel(self, futures: Iterable[Any]) -> None:
        """Cancel the futures that have not finished; running local tasks are stopped."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "workers": self.workers}

    def close(self) -> None:
        """Release the workers (or the connection)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalExecutor(Executor):
    """A ``ProcessPoolExecutor`` whose worker processes receive the shared data once each.

    Shared values must be scattered before the first task is submitted (the pool starts then).
    """

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        cpus = os.cpu_count() or 1
        if workers is not None and workers < 1:
            raise ExecutorError(f"workers must be at least 1 (got {workers})")
        self.workers = workers or cpus
        self.threads_per_task = max(1, cpus // self.workers)
        self._shared: dict[str, Any] = {}
        self._pool: cf.ProcessPoolExecutor | None = None

    def scatter(self, value: Any) -> Shared:
        if self._pool is not None:
            raise ExecutorError("scatter shared data before submitting the first task")
        key = f"shared-{len(self._shared)}"
        self._shared[key] = value
        return Shared(key)

    def submit(self, fn: Callable[..., Any], *args: Any) -> cf.Future[Any]:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(
                self.workers,
                mp_context=_context(),
                initializer=_install,
                initargs=(self._shared,),
            )
        return self._pool.submit(_call, fn, args)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        return cf.as_completed(list(futures))

    def cancel(self, futures: Iterable[Any]) -> None:
        for f in futures:
            f.cancel()
        if self._pool is not None:
            # running solves are not interruptible from outside: stop their processes
            processes = list(getattr(self._pool, "_processes", {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for p in processes:
                p.terminate()
            self._pool = None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "workers": self.workers}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _context() -> Any:
    """Worker processes start from a clean server process, not by forking this one.

    Forking a process that runs threads (a Dask client, a web service, HiGHS) can deadlock the
    child; the fork server is started once, imports align once, and forks the workers.
    """
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["align.sweeping"])
    return ctx


class DaskExecutor(Executor):
    """Tasks on a Dask distributed cluster: ``DaskExecutor("tcp://host:8786")`` or a Client.

    Each task holds one worker thread and solves with one HiGHS thread
    (``threads_per_task = 1``): size the workers' threads to their cores.
    """

    name = "dask"

    def __init__(self, address: Any, *, timeout: float = DASK_TIMEOUT_S) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise ExecutorError(
                "the Dask executor needs the distributed package: pip install 'align[dask]'"
            ) from None
        self._own = not isinstance(address, Client)
        if isinstance(address, Client):
            self.client = address
            self.address = str(address.scheduler.address)
        else:
            self.address = str(address)
            try:
                self.client = Client(self.address, timeout=timeout, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as e:
                raise ExecutorError(
                    f"executor dask: cannot reach a Dask scheduler at {self.address} within "
                    f"{timeout:g} s ({type(e).__name__}: {e}); start one with `dask scheduler` "
                    "and workers with `dask worker tcp://HOST:8786`, or use --executor local"
                ) from None
        workers = self.client.scheduler_info().get("workers", {})
        if not workers:
            if self._own:
                self.client.close()
            raise ExecutorError(
                f"executor dask: the scheduler at {self.address} has no workers; "
                f"start some with `dask worker {self.address}`"
            )
        self.workers = sum(int(w.get("nthreads", 1)) for w in workers.values())
        self.threads_per_task = 1

    def scatter(self, value: Any) -> Any:
        if isinstance(value, Lazy):
            value = value.load()
        return self.client.scatter(value, broadcast=True, hash=False)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        from distributed import as_completed

        return iter(as_completed(list(futures), loop=self.client.loop))

    def cancel(self, futures: Iterable[Any]) -> None:
        pending = [f for f in futures if not f.done()]
        if pending:
            self.client.cancel(pending)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address, "workers": self.workers}

    def close(self) -> None:
        if self._own:
            self.client.close()


def get_executor(spec: str | Executor | None = None, *, workers: int | None = None) -> Executor:
    """An executor from ``"local"`` (the default), ``"dask://HOST:PORT"`` or an Executor.

    ``dask://host:port`` means the scheduler at ``tcp://host:port``; ``tcp://``, ``tls://`` and
    ``inproc://`` addresses are passed to Dask as they are. A scheduler that cannot be reached
    within 5 s raises :class:`~align.errors.ExecutorError`.
    """
    if isinstance(spec, Executor):
        return spec
    if spec is None or spec == "local":
        return LocalExecutor(workers)
    if spec.startswith("dask://"):
        return DaskExecutor("tcp://" + spec[len("dask://") :])
    if spec.split("://", 1)[0] in ("tcp", "tls", "inproc", "ucx"):
        return DaskExecutor(spec)
    raise ExecutorError(
        f"executor {spec!r}: expected 'local' or 'dask://HOST:PORT' (e.g. dask://localhost:8786)"
    )
