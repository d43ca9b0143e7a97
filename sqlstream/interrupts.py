"""Ctrl-C and SIGTERM as a flag, for the loops that must finish what they are doing first."""

from __future__ import annotations

import contextlib
import signal
import threading
import typing as t


class StopFlag:
    """Ctrl-C and SIGTERM set a flag a loop checks, so no call is cut in half (a py4j call, a
    record half printed).

    A second Ctrl-C raises ``KeyboardInterrupt`` at once, for a user who does not want to wait.
    """

    def __init__(self) -> None:
        self.requested: str | None = None
        self._event = threading.Event()

    def _handler(self, signum: int, frame: t.Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> None:
        self._event.wait(seconds)

    def installed(self) -> t.ContextManager[None]:
        @contextlib.contextmanager
        def cm() -> t.Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
            for s in previous:
                signal.signal(s, self._handler)
            try:
                yield
            finally:
                for s, h in previous.items():
                    signal.signal(s, h)

        return cm()
