"""The batch command's threads: the next chunk is read while one is classified, and
the last one is written meanwhile.

Arrow parses, encodes and writes without holding the GIL, so on two cores reading
and writing overlap the classification, which needs it. Each side keeps the order
of the chunks, holds at most a bounded number of them, and raises what went wrong
in the command's own thread, where the failing step would have raised without
threads; a command that stops early stops both.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar

_T = TypeVar("_T")


def read_ahead(chunks: Iterator[_T], depth: int = 1) -> Generator[_T, None, None]:
    """The chunks, each read on a thread of its own while the one before it is
    classified (Arrow parses and encodes without the GIL, so on two cores reading
    overlaps the rest). What reading raises is raised here, where the chunk would have
    come; a caller that stops early stops the reading."""
    box: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for chunk in chunks:
                if not offer(("chunk", chunk)):
                    return
            offer(("end", None))
        except BaseException as exc:  # raised again in the command's thread
            offer(("error", exc))
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=read, name="batch-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = box.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


class WriteBehind:
    """Writes the chunks, in order, on a thread of its own while the next chunk is read
    and classified: Arrow's writers release the GIL, so on two cores writing overlaps
    the rest. At most ``depth`` chunks wait to be written; an error while writing is
    raised in the command at its next chunk, or at the end, and nothing after the chunk
    that failed is written."""

    def __init__(self, depth: int = 2) -> None:
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="batch-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            if self._error is None and not self._stopped:
                try:
                    job()
                except BaseException as exc:  # raised again in the command's thread
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:  # kept: the chunks queued behind it stay unwritten
            raise self._error

    def put(self, job: Callable[[], None]) -> None:
        """Write a chunk once the chunks before it are written."""
        self._raise()
        self._jobs.put(job)

    def finish(self) -> None:
        """Wait until every chunk is written (or raise what went wrong writing one)."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()
        self._raise()

    def stop(self) -> None:
        """Drop what waits and end the thread (after the command failed or finished)."""
        self._stopped = True
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()
