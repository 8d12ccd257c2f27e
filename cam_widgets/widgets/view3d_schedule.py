"""``DeferredUpdates``: how the 3D view follows its viewer without slowing it down.

A change only notes which part of the view it concerns (``_changed(part)``). In a Jupyter kernel the
update then waits until the browser has drawn the viewer's change: once the handler of the message (or
the cell) that changed the viewer has returned, so after the viewer's new state has been sent, the view
asks its front end (``_ask_idle(token)``, a custom message sent after the viewer's), which answers when
it has painted a frame and is idle (``_idle(token)``). Meshing earlier would compete for the same CPUs
with the browser's decoding and drawing of the 2D change (measured: ``bench/view3d_latency.py``). Without
an answer (no view on screen) the update runs after ``FALLBACK`` seconds. One update serves every change
noted meanwhile.

The update itself is a generator (``_update(parts)``) run one step per turn of the event loop of the thread
that received the answer: JupyterLab sends widget messages to a kernel subshell, a thread of its own, so
the steps run between the messages of that thread, as the viewer's own updates do. A message that
arrives between two steps (a new class, a control) is handled first, and the update then starts again
with its parts added (a subclass caches what it computed, so nothing is done twice). Changes made by a
cell's code are applied when the cell has run (IPython's ``post_run_cell``; ``post_execute`` also fires
after every comm message), and the view's picture is published then, so an executed notebook shows its
final state. Outside a kernel every change updates at once; ``refresh()`` finishes a pending update now.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator

from .export import _shell, kernel_loop

FALLBACK = 1.0
"""Seconds an update waits for the front end's answer at most."""
_HERE = object()  # "this thread's event loop, if it runs in a kernel" (a default that None cannot mean)
_waiting: weakref.WeakSet = weakref.WeakSet()  # views with an update to do
_hooked: set[int] = set()  # ids of the IPython shells that finish them after each cell


def _finish_waiting(result=None) -> None:
    for view in list(_waiting):
        view.refresh()
        view._publish_static_png()  # its picture now too (``export.py`` flushed before this hook)


def _hook_cells() -> None:
    """Finish the pending updates after each cell (registered once per shell)."""
    shell = _shell()
    if shell is not None and id(shell) not in _hooked:
        shell.events.register("post_run_cell", _finish_waiting)
        _hooked.add(id(shell))


class DeferredUpdates:
    """Mixin of an ``ExportMixin`` widget: ``_update(parts) -> Iterator[None]`` (the steps) and the hooks
    ``_started()`` / ``_finished(problem)`` / ``_ask_idle(token)`` are the subclass's, which calls
    ``_init_updates()`` in its constructor and ``_idle(token)`` with the front end's answers; ``updates``
    counts the updates that finished."""

    def _init_updates(self) -> None:
        self._lock = threading.Lock()  # the bookkeeping below (never held during a step)
        self._pending: set[str] = set()
        self._failed: set[str] = set()  # the parts of an update that failed: tried again with the next
        self._steps: Iterator[None] | None = None  # the update in progress, its parts, its thread
        self._parts: set[str] = set()
        self._owner: int | None = None
        self._asked: int | None = None  # the token of the front end's answer the update waits for
        self._tokens = 0
        self.updates = 0

    def _update(self, parts: set[str]) -> Iterator[None]:
        raise NotImplementedError

    def _started(self) -> None:
        """An update begins (e.g. show that it is busy)."""

    def _finished(self, problem: Exception | None) -> None:
        """An update ended, with ``problem`` when a step raised."""

    def _ask_idle(self, token: int) -> None:
        """Ask the front end to answer ``_idle(token)`` once it has drawn what it received and is idle."""

    def refresh(self) -> None:
        """Finish a pending update now (an update running in another thread finishes by itself)."""
        if self._steps is not None and self._owner != threading.get_ident():
            return
        if self._steps is not None:
            self._step(loop=None)
        self._run(loop=None)
        _waiting.discard(self)

    def _changed(self, part: str) -> None:
        """Note ``part`` for the next update and ask for it."""
        with self._lock:
            self._pending.add(part)
        loop = kernel_loop()
        if loop is None:
            self._run()
            return
        _hook_cells()
        _waiting.add(self)
        if self._steps is None:  # (a running update sees the note after its step and starts again)
            self._ask(loop)

    def _ask(self, loop) -> None:
        """After the current handler, on its thread's loop: ask the front end; run anyway after ``FALLBACK``."""
        with self._lock:
            if self._asked is not None:
                return
            self._tokens += 1
            token = self._asked = self._tokens

        def question() -> None:
            if self._asked == token:  # (not run meanwhile)
                self._ask_idle(token)
                loop.call_later(FALLBACK, lambda: self._idle(token))

        loop.call_soon(question)

    def _idle(self, token: int) -> None:
        """The front end's answer (or the fallback): run the update asked for with ``token``, if it waits."""
        with self._lock:
            if token != self._asked:
                return
            self._asked = None
        self._run()

    def _run(self, loop=_HERE) -> None:
        """One update for every part noted since the last one (``loop`` None: every step now)."""
        with self._lock:
            self._asked = None
            parts, self._pending, self._failed = self._pending | self._failed, set(), set()
            if not parts:
                return
            if self._steps is not None:
                self._pending |= parts
                return
            self._steps, self._parts, self._owner = self._update(parts), parts, threading.get_ident()
        self._started()
        self._step(loop)

    def _step(self, loop=_HERE) -> None:
        """The update's next step, then (in a kernel) the rest in later turns of the loop."""
        loop = kernel_loop() if loop is _HERE else loop
        while True:
            with self._lock:
                if self._steps is None:  # (finished by ``refresh``)
                    return
                again = bool(self._pending) and loop is not None
                if again:  # newer changes: start again, with them, once the browser has drawn them
                    self._steps.close()
                    self._steps, self._owner, self._pending = None, None, self._pending | self._parts
            if again:
                self._ask(loop)
                return
            try:
                next(self._steps)
            except StopIteration:
                return self._finish(None)
            except Exception as problem:  # the viewer must keep working whatever its 3D view meets
                return self._finish(problem)
            if loop is not None:
                loop.call_soon(self._step)
                return

    def _finish(self, problem: Exception | None) -> None:
        with self._lock:
            self._steps = self._owner = None
            if problem is None:
                self.updates += 1
            else:
                self._failed = self._parts
            if not self._pending:
                _waiting.discard(self)
        self._finished(problem)
