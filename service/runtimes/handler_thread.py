"""The one thread a PYTHON model's handler runs on, and the bound on each of its calls.

A handler is someone else's Python: it may hang. Python cannot kill a thread, so a call that
outlives ``timeout_s`` is abandoned, not stopped: its caller gets HandlerTimeoutError, and
every later call fails fast (HandlerStuckError) until the stuck call returns, when the thread
takes calls again. The thread is a daemon of its own (not a ThreadPoolExecutor's, which the
interpreter joins at exit): a handler stuck for good must not keep the process from exiting.
Calls run one at a time, in order, so a handler never sees two threads at once."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from service.errors import ScoringError

log = logging.getLogger(__name__)


class HandlerError(ScoringError):
    """A handler's call failed as a whole (its rows become scoring-error dead letters)."""


class HandlerTimeoutError(HandlerError):
    pass


class HandlerStuckError(HandlerError):
    pass


@dataclass
class _Call:
    function: Callable[..., Any]
    args: tuple[Any, ...]
    future: Future[Any] = field(default_factory=Future)
    started: threading.Event = field(default_factory=threading.Event)


_STOP = None  # what the queue is given to let the thread end


class HandlerThread:
    def __init__(self, name: str, timeout_s: float) -> None:
        self._name = name
        self._timeout_s = timeout_s
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None  # started by the first call
        self._stuck: Future[Any] | None = None  # the call that timed out, until it returns
        self._closed = False

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` on the handler's thread: its result, or what it raised. Raises
        HandlerTimeoutError when it takes more than ``timeout_s``, counted from when it
        starts (waiting behind another caller's call is bounded by that one's time-out)."""
        self._fail_if_stuck()
        job = _Call(function, args)
        self._submit(job)
        if not job.started.wait(self._timeout_s) and job.future.cancel():
            # Still queued behind a call that is itself timing out: do not run it late.
            self._fail_if_stuck()
            raise HandlerTimeoutError(f"{self._name} did not start within {self._timeout_s:g} s")
        try:
            return job.future.result(timeout=self._timeout_s)
        except TimeoutError:
            if job.future.done():  # the handler itself raised a TimeoutError
                raise
            with self._lock:
                self._stuck = job.future
            raise HandlerTimeoutError(
                f"{self._name} did not return within {self._timeout_s:g} s "
                "(MODELSERVE_PYTHON_HANDLER_TIMEOUT_S); its calls fail until it returns"
            ) from None

    def close(self, last: Callable[[], Any] | None = None) -> None:
        """Let the thread end once its queued calls are done, after ``last`` (the handler's
        own close, whose failure is logged). Never waits: a stuck handler's thread stays
        behind, a daemon, and ``last`` is not run while it is stuck (it would wait forever
        behind the stuck call, or race it)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            stuck = self._stuck is not None and not self._stuck.done()
            running = self._thread is not None
        if last is not None and stuck:
            log.warning("%s is stuck in a call: it is not closed", self._name)
        elif last is not None and running:
            self._calls.put(_Call(_logged(last, self._name), ()))
        elif last is not None:  # never called: no thread to start just for this
            _logged(last, self._name)()
        if running:
            self._calls.put(_STOP)

    def _fail_if_stuck(self) -> None:
        with self._lock:
            if self._closed:
                raise HandlerError(f"{self._name} is closed")
            if self._stuck is not None and not self._stuck.done():
                raise HandlerStuckError(
                    f"{self._name} is still in a call that timed out; it takes no calls until "
                    "that one returns"
                )
            self._stuck = None

    def _submit(self, job: _Call) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name=f"python-handler {self._name}", daemon=True
                )
                self._thread.start()
            self._calls.put(job)

    def _work(self) -> None:
        while True:
            job = self._calls.get()
            if job is None:  # _STOP
                return
            if not job.future.set_running_or_notify_cancel():
                continue  # its caller gave up waiting for it to start
            job.started.set()
            try:
                job.future.set_result(job.function(*job.args))
            except Exception as exc:
                job.future.set_exception(exc)
            except BaseException as exc:  # SystemExit, say
                # Raised in the caller's thread it would escape the engine's `except
                # Exception` and take the service down; it fails the call instead.
                job.future.set_exception(HandlerError(f"{self._name} raised {exc!r}"))


def _logged(function: Callable[[], Any], name: str) -> Callable[[], None]:
    def run() -> None:
        try:
            function()
        except Exception:
            log.exception("closing %s failed", name)

    return run
