"""gRPC's C core writes its own lines to file descriptor 2: under a JSON log, they are
relayed through structlog as JSON lines too."""

from __future__ import annotations

import logging
import os
import re
import sys
import threading

import structlog

# gRPC's C core writes its own lines (absl format) straight to file descriptor 2, e.g.
# "E1128 11:36:43.165484   26123 add_port.cc:83] Failed to add port to server: ...".
_NATIVE_LINE = re.compile(r"([EWIF])\d{4} [\d:.]+\s+\d+ ([\w.-]+:\d+)\] (.*)")
_NATIVE_LEVELS = {
    "E": logging.ERROR,
    "W": logging.WARNING,
    "I": logging.INFO,
    "F": logging.CRITICAL,
}


def route_native_stderr() -> None:
    """Routes what native code writes to stderr (gRPC's core) through the log, so that a
    JSON log stays JSON: descriptor 2 becomes a pipe read by a thread, while Python's own
    writes go on to the real stderr through a duplicate of it."""
    real = os.dup(2)
    sys.stderr = open(real, "w", buffering=1, closefd=False)  # noqa: SIM115 - for the process
    read, write = os.pipe()
    os.dup2(write, 2)
    os.close(write)
    log = structlog.get_logger("grpc")

    def relay() -> None:
        with open(read, errors="replace") as native:
            for line in native:
                if line.startswith("{"):
                    # Already a log line: a child process's, written to the stderr it inherited.
                    sys.stderr.write(line)
                    continue
                match = _NATIVE_LINE.match(line.rstrip("\n"))
                if match is None:
                    log.warning(line.rstrip("\n")[:300], logger="native")
                    continue
                letter, source, message = match.groups()
                log.log(_NATIVE_LEVELS[letter], message[:300], logger="grpc", source=source)

    threading.Thread(target=relay, name="native-stderr", daemon=True).start()
