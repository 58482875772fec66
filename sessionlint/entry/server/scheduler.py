"""When documents are checked: at once when opened or saved, and when changed after a quiet
time; after a short quiet time (the debounce) when changes come faster than that; one
check at a time, the latest text of each document only."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable


class Scheduler:
    """Collects the documents to check and hands them, in batches, to `run` (a coroutine,
    which checks them off the event loop). A change arriving while a check runs is checked
    after it; several changes to one document in the quiet time are one check."""

    def __init__(self, run: Callable[[list[str]], Awaitable[None]]) -> None:
        self._run = run
        self._due: dict[str, float] = {}
        self._requested: dict[str, float] = {}  # when each document was last asked for
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def request(self, uri: str, delay: float = 0.0) -> None:
        """Check `uri` in `delay` seconds (a later request replaces the earlier delay), or
        at once when it was last asked for longer than `delay` ago and is not waiting: the
        debounce groups a burst of changes into one check, and a change after a pause (a
        typist's next word) need not wait for it."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        last = self._requested.get(uri)
        self._requested[uri] = now
        burst = uri in self._due or (last is not None and now - last < delay)
        self._due[uri] = now + delay if burst else now
        if self._wakeup is None:
            self._wakeup = asyncio.Event()
        self._wakeup.set()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._loop())

    def drop(self, uri: str) -> None:
        self._due.pop(uri, None)
        self._requested.pop(uri, None)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _loop(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while self._due:
            self._wakeup.clear()
            now = loop.time()
            wait = min(self._due.values()) - now
            if wait > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), wait)
                continue
            ready = sorted(uri for uri, due in self._due.items() if due <= now)
            for uri in ready:
                del self._due[uri]
            await self._run(ready)
