"""The FastAPI dependencies the routes share: what the lifespan put on ``app.state``.

A route names what it needs in its signature rather than reaching into ``request.app.state``,
where the lifespan (``service/app.py``) keeps it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from service.live_index import LiveIndex
from service.qa import Components


async def get_components(request: Request) -> Components:
    # async: a dependency this small is not worth a hop to the thread pool
    state = request.app.state
    if state.live.settings.workers > 1 and state.live.behind():
        # Another worker process committed a write, and answered 2xx: its client must read
        # it here too, not after the next poll (a deleted article came back for 0.5 s).
        await run_in_threadpool(state.live.reload)
    return state.components


async def get_live(request: Request) -> LiveIndex:
    return request.app.state.live


ComponentsDep = Annotated[Components, Depends(get_components)]
"""The components serving now, taken once per request: a request that is running when a
reload swaps in a new generation answers wholly from the one it started with."""
LiveDep = Annotated[LiveIndex, Depends(get_live)]
"""The served index's writer: writes commit through it and swap the new generation in."""
