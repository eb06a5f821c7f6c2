"""Running one load level's client tasks: a time limit for the level, and every failure counted, none lost."""
from __future__ import annotations

import asyncio


async def run_level(tasks: list[asyncio.Task], timeout: float, stats) -> None:
    """Wait for the tasks up to `timeout` s; whoever is still running is cut off and counted as a timeout, and a
    task that raised is recorded in stats.exceptions (the client's own bug must show up in the table, not vanish)."""
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
        stats.timeouts += 1
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if task.exception() is not None:
            stats.exceptions.append(f"client error: {task.exception()!r}"[:300])
