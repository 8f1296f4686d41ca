"""The benchmark's room client: Socket.IO 5 over Engine.IO 4 on a websocket, for what a
room's client in the benchmark does (connect with a token, events with and without an
acknowledgement, the server's events, its pings) and no more.

python-socketio's asyncio client spent 80–114 µs of CPU on each event it received (a task
for each frame read and another for each event). At 1,000 clients and 20 messages a second
that is more than two cores for 20,000 deliveries a second, on the same two cores as the
server measured, so from 500 clients on the clients' process set the figures: in a whole
run with it, the clients of a room of 1,000 received 10,600–13,900 deliveries a second of
the 20,000 sent, from either server. This client reads each frame in the websocket's own
loop and calls the event's handler there: 43–47 µs a delivery.

Only the default namespace and text packets: neither server sends binary data.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import aiohttp
import orjson

#: Engine.IO packet types (the first character of a frame).
OPEN, CLOSE, PING, PONG, MESSAGE = "0", "1", "2", "3", "4"
#: Socket.IO packet types (the character after Engine.IO's MESSAGE).
CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR = "0", "1", "2", "3", "4"


class ConnectionRefused(Exception):
    """The server refused the Socket.IO connection (``CONNECT_ERROR``): its data."""


def decode(text: str) -> tuple[str, int | None, object]:
    """A Socket.IO packet in the default namespace (``text`` without Engine.IO's ``4``):
    ``(type, id, data)``. ``"2[\"message:new\",{…}]"`` is an event with no id, ``"312[{…}]"``
    the acknowledgement of call 12."""
    kind, rest = text[:1], text[1:]
    start = 0
    while start < len(rest) and rest[start].isdigit():
        start += 1
    number = int(rest[:start]) if start else None
    data = orjson.loads(rest[start:]) if start < len(rest) else None
    return kind, number, data


def encode(kind: str, data, number: int | None = None) -> str:
    """The websocket frame of a Socket.IO packet in the default namespace."""
    body = "" if data is None else orjson.dumps(data).decode()
    return f"{MESSAGE}{kind}{'' if number is None else number}{body}"


class RoomClient:
    """One client. ``on(event, handler)`` before ``connect``: the handler is called with
    the event's first argument, in the reading loop (it must not block)."""

    def __init__(self, session: aiohttp.ClientSession):
        self._session = session
        self._handlers: dict[str, Callable] = {}
        self._waiting: dict[int, asyncio.Future] = {}
        self._numbers = itertools.count(1)
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None
        self._closing = False
        #: Called with a reason when the connection ends without :meth:`disconnect`.
        self.on_disconnect: Callable[[str], None] | None = None

    def on(self, event: str, handler: Callable) -> None:
        self._handlers[event] = handler

    async def connect(self, url: str, auth: dict | None = None, timeout: float = 60) -> None:
        address = url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        async with asyncio.timeout(timeout):
            self._ws = await self._session.ws_connect(address, max_msg_size=0)
            opened = await self._ws.receive_str()
            if not opened.startswith(OPEN):
                raise ConnectionError(f"not an Engine.IO open packet: {opened[:80]!r}")
            await self._ws.send_str(encode(CONNECT, auth))
            while True:
                frame = await self._ws.receive_str()
                if frame == PING:
                    await self._ws.send_str(PONG)
                    continue
                kind, _number, data = decode(frame[1:])
                if kind == CONNECT:
                    break
                if kind == CONNECT_ERROR:
                    await self._ws.close()
                    raise ConnectionRefused(data)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        reason = "transport closed"
        try:
            async for message in self._ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    if message.type is aiohttp.WSMsgType.ERROR:
                        reason = f"transport error: {self._ws.exception()!r}"
                    continue
                frame = message.data
                if frame == PING:
                    await self._ws.send_str(PONG)
                elif frame.startswith(MESSAGE):
                    if not self._packet(frame[1:]):
                        reason = "server disconnect"
                        break
                elif frame.startswith(CLOSE):
                    reason = "server close"
                    break
        except (aiohttp.ClientError, ConnectionError) as error:
            reason = f"transport error: {error!r}"
        finally:
            for waiting in self._waiting.values():
                if not waiting.done():
                    waiting.set_exception(ConnectionError(reason))
            self._waiting.clear()
            if not self._closing and self.on_disconnect is not None:
                self.on_disconnect(reason)

    def _packet(self, text: str) -> bool:
        """Handle one Socket.IO packet; False when the server ended the connection."""
        kind, number, data = decode(text)
        if kind == EVENT and isinstance(data, list) and data:
            handler = self._handlers.get(data[0])
            if handler is not None:
                handler(data[1] if len(data) > 1 else None)
        elif kind == ACK and number is not None:
            waiting = self._waiting.pop(number, None)
            if waiting is not None and not waiting.done():
                values = data if isinstance(data, list) else []
                waiting.set_result(values[0] if len(values) == 1 else tuple(values))
        elif kind == DISCONNECT:
            return False
        return True

    async def emit(self, event: str, data) -> None:
        await self._ws.send_str(encode(EVENT, [event, data]))

    async def call(self, event: str, data, timeout: float = 60):
        """Send an event and wait for its acknowledgement (its first argument)."""
        number = next(self._numbers)
        waiting = asyncio.get_running_loop().create_future()
        self._waiting[number] = waiting
        try:
            await self._ws.send_str(encode(EVENT, [event, data], number))
            async with asyncio.timeout(timeout):
                return await waiting
        finally:
            self._waiting.pop(number, None)

    async def disconnect(self) -> None:
        self._closing = True
        if self._ws is not None and not self._ws.closed:
            try:
                await self._ws.send_str(encode(DISCONNECT, None))
            except (aiohttp.ClientError, ConnectionError):
                pass
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
