"""Start-up of ``cityqa serve``: a clock that starts with the process, one line per phase, and
a busy port found before any model is loaded."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path


def seconds_since_process_start() -> float:
    """Seconds since this process started (read from /proc on Linux), so the ready banner
    counts the interpreter and the heavy imports too; 0.0 where /proc is not available."""
    try:
        # Field 22 of /proc/self/stat is the start time in clock ticks after boot; the command
        # name (field 2) may contain spaces, so count from its closing parenthesis.
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return max(0.0, uptime - started)


class StartupClock:
    """Prints ``启动：<phase>（N 秒）`` as each phase ends, timed from process start."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self._say = say
        self._origin = time.perf_counter() - seconds_since_process_start()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._origin

    def done(self, phase: str) -> None:
        self._say(f"启动：{phase}（{self.elapsed:.1f} 秒）")


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on host:port, checked before models load so the
    user hears about it at once instead of after half a minute."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except socket.gaierror:
            return False  # an unknown host name is reported by the server itself
        except OSError:
            return True
    return False
