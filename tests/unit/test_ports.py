"""The port guard: refuses a port something serves, lets the server's own processes in."""

from __future__ import annotations

import socket
import time

import pytest

from server.ports import PortInUse, reserve


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listener(port: int, *, reuseport: bool) -> socket.socket:
    """A listening socket set up as grpc sets up its own."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, int(reuseport))
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def test_a_port_something_listens_on_is_refused_with_its_number() -> None:
    with listener(0, reuseport=True) as other:
        port = other.getsockname()[1]
        with pytest.raises(PortInUse, match=f"^port {port} is already in use$"):
            reserve("127.0.0.1", port)


def test_a_reserved_port_admits_the_servers_processes_and_refuses_a_second_server() -> None:
    port = free_port()
    guards = reserve("127.0.0.1", port)
    try:
        with (
            listener(port, reuseport=True),
            listener(port, reuseport=True),
            pytest.raises(PortInUse),
        ):
            reserve("127.0.0.1", port)
        # Even before its processes listen, the port is taken.
        with pytest.raises(PortInUse):
            reserve("127.0.0.1", port)
    finally:
        for guard in guards:
            guard.close()
    for guard in reserve("127.0.0.1", port):
        guard.close()


def test_connections_in_time_wait_do_not_make_a_free_port_look_busy() -> None:
    with listener(0, reuseport=False) as old:
        port = old.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = old.accept()
        accepted.close()  # the server side closes first: its end waits in TIME_WAIT
        time.sleep(0.05)
        client.close()
    for guard in reserve("127.0.0.1", port):
        guard.close()
