"""One bounded body reader for every route that takes a body (the webhook, `/alerts`), and one answer to a body
refused (413, 408).

A body over `limit` bytes is refused as soon as it is known — by its Content-Length before a byte is read, or,
chunked, as soon as the bytes read pass the limit — and one that does not arrive within `timeout` seconds of
its headers is given up on, so a slow or endless sender holds neither memory nor a task.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

CHUNK = 64 * 1024


class TooLarge(Exception):
    """The body is over the route's limit: answer 413."""


async def read_bounded(request: web.Request, *, limit: int, timeout: float) -> bytes:
    """The whole body; TooLarge past `limit` bytes, TimeoutError (answer 408) past `timeout` seconds."""
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge
    chunks: list[bytes] = []
    size = 0
    async with asyncio.timeout(timeout):
        async for chunk in request.content.iter_chunked(CHUNK):
            size += len(chunk)
            if size > limit:
                raise TooLarge
            chunks.append(chunk)
    return b"".join(chunks)


async def read_or_refuse(request: web.Request, *, limit: int, timeout: float) -> bytes | web.Response:
    """The whole body, or the answer that refuses it: 413 past `limit` bytes, 408 past `timeout` seconds."""
    try:
        return await read_bounded(request, limit=limit, timeout=timeout)
    except TooLarge:
        return web.Response(status=413, text="Payload too large\n")
    except TimeoutError:
        return web.Response(status=408, text="Request timeout\n")
