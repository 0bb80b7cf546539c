"""A bare grpc.aio server: one unary method that answers with the request's bytes.

    .venv/bin/python bench/echo_server.py PORT [PROCESSES]

The framework's own cost per call, for `make bench` to set TextLens's per-call overhead
beside: no interceptors, no protobuf decoding, no storage; the same grpcio, event loop
(uvloop) and port sharing (SO_REUSEPORT, one process per core) as the server.
"""

from __future__ import annotations

import multiprocessing
import sys

import grpc
import grpc.aio
import uvloop

METHOD = "/bench.Echo/Echo"


async def _echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    return request


async def serve(port: int) -> None:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 1)])
    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(_echo)}
    )
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print(f"echo listening on 127.0.0.1:{port}", flush=True)
    await server.wait_for_termination()


def run(port: int) -> None:
    uvloop.run(serve(port))


def main() -> None:
    port = int(sys.argv[1])
    processes = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    spawn = multiprocessing.get_context("spawn")
    children = [spawn.Process(target=run, args=(port,)) for _ in range(processes)]
    for child in children:
        child.start()
    for child in children:
        child.join()


if __name__ == "__main__":
    main()
