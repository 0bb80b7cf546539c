"""Keeps the serving port to this server's own processes.

The server processes bind with SO_REUSEPORT so that the kernel spreads connections across
them, but any other process could then bind the same port and take half the connections
(another server, with another key). So before anything starts, the server checks the port
with a plain bind, which fails if anything listens there, and then holds a bound (never
listening) SO_REUSEPORT socket for as long as it runs: its own processes can bind beside
it, while the plain check of any other server fails.
"""

from __future__ import annotations

import errno
import socket
from typing import Any


class PortInUse(Exception):
    def __init__(self, port: int) -> None:
        super().__init__(f"port {port} is already in use")
        self.port = port


Address = tuple[Any, ...]


def _addresses(host: str, port: int) -> list[tuple[int, Address]]:
    infos = socket.getaddrinfo(
        host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    return [(family, address) for family, _, _, _, address in infos]


def reserve(host: str, port: int) -> list[socket.socket]:
    """Checks that nothing serves ``host:port`` and holds it for this server's processes;
    raises PortInUse if something does. Close the sockets returned when the server stops."""
    held: list[socket.socket] = []
    try:
        for family, address in _addresses(host, port):
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                # SO_REUSEADDR: connections left in TIME_WAIT by a previous run don't count.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                _bind(probe, address, port)
            guard = socket.socket(family, socket.SOCK_STREAM)
            guard.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            try:
                guard.bind(address)
            except OSError as exc:
                guard.close()
                # Nothing listens (the check passed): connections in TIME_WAIT left by a
                # program without SO_REUSEPORT block the guard, not the server. It starts
                # unguarded rather than refuse a free port.
                if exc.errno != errno.EADDRINUSE:
                    raise
            else:
                held.append(guard)
    except BaseException:
        for guard in held:
            guard.close()
        raise
    return held


def _bind(sock: socket.socket, address: Address, port: int) -> None:
    try:
        sock.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(port) from None
        raise
