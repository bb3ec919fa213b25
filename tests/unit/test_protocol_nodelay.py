"""Each connection a worker accepts has TCP_NODELAY, whatever socket it was accepted on.

With `--workers N`, uvicorn binds one listening socket in the supervisor and every worker accepts
on it; that socket is made without a protocol number, and asyncio only turns Nagle's algorithm off
on sockets whose protocol number says TCP. A response's body then waited for the client's delayed
acknowledgement of its headers, 40 ms a request."""

import asyncio
import socket

from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from app.web.protocol import DeadlineH11Protocol
from tests.reliability.live import in_own_loop


async def _hello(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def accepted_nodelay(protocol_class) -> int:
    """TCP_NODELAY of the connection a server with `protocol_class` accepted on a listening socket made
    as uvicorn makes the one its workers share."""
    async def scenario() -> int:
        config = Config(app=_hello, http=protocol_class, log_level="warning", lifespan="off")
        config.load()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        assert listener.proto == 0  # the premise: no protocol number, as in uvicorn's bind_socket
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        made: list = []

        def factory():
            made.append(protocol_class(config=config, server_state=ServerState(), app_state={}))
            return made[-1]

        server = await asyncio.get_running_loop().create_server(factory, sock=listener)
        reader, writer = await asyncio.open_connection(*listener.getsockname())
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        flag = made[0].transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        writer.close()
        server.close()
        await server.wait_closed()
        return flag

    return in_own_loop(scenario)


def test_the_served_protocol_turns_nagle_off_on_a_shared_listening_socket():
    assert accepted_nodelay(DeadlineH11Protocol) != 0


def test_uvicorn_alone_leaves_nagle_on_there():
    """Why the protocol does it: if uvicorn or asyncio ever set it themselves, this says so."""
    assert accepted_nodelay(H11Protocol) == 0
