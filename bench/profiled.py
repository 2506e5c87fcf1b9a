"""Run a service under cProfile: ``python -m bench.profiled OUT.prof PORT module:factory``;
profiling starts at SIGUSR1 and the profile is written at SIGTERM.

uvicorn re-raises SIGTERM after its graceful shutdown, which would kill ``python -m cProfile``
before it writes anything; here the profile is written by our own SIGTERM handler instead."""

from __future__ import annotations

import cProfile
import os
import signal
import sys
import time

import uvicorn


def main() -> None:
    out, port, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    # CPU time, not wall time: under uvloop the wait in epoll happens inside C code the profiler
    # cannot see, so a wall-clock profile charges the idle time to whichever Python frame is active
    # (uvicorn's proxy-headers middleware, asyncpg's execute) and hides where the CPU really goes.
    profile = cProfile.Profile(time.process_time)

    def dump(*_: object) -> None:
        profile.disable()
        profile.dump_stats(out)
        os._exit(0)

    signal.signal(signal.SIGTERM, dump)
    # the benchmark sends SIGUSR1 when the load starts, so start-up is not in the profile
    signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
    server = uvicorn.Server(
        uvicorn.Config(
            target,
            factory=True,
            host="127.0.0.1",
            port=port,
            loop="uvloop",
            http="httptools",
            access_log=False,
            log_level="warning",
        )
    )
    server.run()
    dump()


if __name__ == "__main__":
    main()
