"""uvicorn's HTTP/1.1 protocol (h11) with a deadline for receiving each request.

uvicorn times out an idle keep-alive connection, but nothing else: its keep-alive timer is
cancelled by every byte received and only armed after a response, so a client that opens a
connection and sends nothing, or sends its headers a line at a time, holds the connection for
as long as it likes (a thousand such clients stayed open for over 120 s). Here a request must
arrive whole -- request line, headers and any body -- within `header_timeout` seconds of its
first byte (or of the connection opening); otherwise the connection is answered 408 and closed.
Once the request is in, the deadline is off: a slow search is bounded by the request time limit
(app/web/limits.py), not by this.

Every connection also gets TCP_NODELAY. asyncio sets it only on sockets whose protocol number is
TCP, and the listening socket uvicorn shares with its workers (`--workers N`) is made without one,
so there every response's body waited for the client's delayed ACK of its headers: 40 ms a
request, whatever its cost (two workers answered /health at a quarter of one worker's rate).
"""

import socket

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.settings import get_settings

_TIMED_OUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
              b"content-length: 37\r\nconnection: close\r\n\r\nThe request did not arrive in time.\r\n")


class DeadlineH11Protocol(H11Protocol):
    """H11Protocol whose requests must arrive within the configured time (see the module)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.header_timeout = get_settings().header_timeout
        self._deadline = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            self._arm()  # still receiving a request: keep (or start) its deadline
        else:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # waits for the next request under the keep-alive timeout
        if self.conn.their_state is not h11.IDLE:  # a pipelined request was already read whole
            self._disarm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is None and self.header_timeout > 0 and not self.transport.is_closing():
            self._deadline = self.loop.call_later(self.header_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):
            return
        if self.conn.our_state is h11.IDLE and (self.cycle is None or self.cycle.response_complete):
            self.transport.write(_TIMED_OUT)  # nothing of an answer sent yet: say why
        self.transport.close()
