"""Work beside the main path: a function run in a process of its own, its value collected later.

Greenfield's Lagrangian bound (:mod:`.centre_bound`) and the contiguous local search each need a
core: on two cores the bound runs beside the search instead of after it, and each gets the whole
time. A thread would not do: the search is Python work that holds the GIL most of the time, and
a bound thread beside a busy Python thread made 45 steps in 60 s where it makes 253 alone
(national counties, k = 20). So the function runs in a child Python process (``python -c``, not
``multiprocessing``: a service's solver process is daemonic, and a daemonic process may not
start ``multiprocessing`` children), its function and arguments pickled to a temporary file, its
value pickled back on the child's standard output. The function must end by its own deadline; a
child still running when its value is asked for is stopped and gives no value.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

GRACE_S = 5.0  # a function this far past its own deadline gives no value
CHILD = "import sys; from align.engine.beside import main; main(sys.argv[1])"


def main(path: str) -> None:
    """The child: the pickled ``(fn, args)`` in ``path`` (removed once read), ``fn(*args)`` run,
    ``(True, value)`` or ``(False, exception)`` pickled to standard output (anything the
    function prints goes to standard error)."""
    with open(path, "rb") as f:
        fn, args = pickle.load(f)
    os.unlink(path)
    out = sys.stdout.buffer
    sys.stdout = sys.stderr
    try:
        result: tuple[bool, object] = (True, fn(*args))
    except Exception as e:  # noqa: BLE001 - handed to the parent's value()
        result = (False, e)
    pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


class Beside(Generic[T]):
    """``fn(*args)`` started at once in a child Python process (``fn`` a module-level function
    of an installed module, ``args`` data that pickles)."""

    def __init__(self, fn: Callable[..., T], *args: object) -> None:
        fd, self._path = tempfile.mkstemp(prefix="align-beside-", suffix=".pickle")
        with os.fdopen(fd, "wb") as f:
            pickle.dump((fn, args), f, protocol=pickle.HIGHEST_PROTOCOL)
        self._process = subprocess.Popen(
            [sys.executable, "-c", CHILD, self._path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.error = ""  # what the child wrote to standard error when it gave no value

    def value(self, wait: float = GRACE_S) -> T | None:
        """The function's value once it has ended (waiting at most ``wait`` s); None, and the
        child stopped, when it is still running then or ended without a value (its standard
        error then in :attr:`error`); an exception the function raised is raised here."""
        try:
            out, err = self._process.communicate(timeout=max(wait, 0.0))
        except subprocess.TimeoutExpired:
            self.stop()
            return None
        self._remove()  # gone already unless the child died before reading it
        if self._process.returncode != 0 or not out:
            self.error = err.decode(errors="replace").strip()
            return None
        ok, value = pickle.loads(out)
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    def stop(self) -> None:
        """Stop the child if it still runs, and reap it."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.communicate()
        self._remove()

    def _remove(self) -> None:
        try:
            os.unlink(self._path)  # the child removes it once read
        except FileNotFoundError:
            pass

    @property
    def running(self) -> bool:
        return self._process.poll() is None
