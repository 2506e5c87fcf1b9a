"""Run a service under cProfile: ``python -m bench.profiled OUT.prof PORT module:factory
[--no-proxy-headers]``; profiling starts at SIGUSR1 and the profile is written at SIGTERM.

uvicorn's settings are the services' start commands' (uvloop, httptools, no access log);
``--no-proxy-headers`` as ``./dev run`` passes it (devstack.run.service_command: its ``--profile``
starts services here), while the benchmarks' own services keep uvicorn's default
(bench.infra.start_uvicorn).

uvicorn re-raises SIGTERM after its graceful shutdown, which would kill ``python -m cProfile``
before it writes anything; here the profile is written by our own SIGTERM handler instead."""

from __future__ import annotations

import argparse
import cProfile
import os
import signal
import time

import uvicorn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="a uvicorn app factory under cProfile (CPU time)")
    parser.add_argument("out", help="the .prof file written at SIGTERM")
    parser.add_argument("port", type=int)
    parser.add_argument("target", help="module:factory")
    parser.add_argument("--no-proxy-headers", dest="proxy_headers", action="store_false")
    args = parser.parse_args(argv)
    out = args.out
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
            args.target,
            factory=True,
            host="127.0.0.1",
            port=args.port,
            loop="uvloop",
            http="httptools",
            access_log=False,
            proxy_headers=args.proxy_headers,
            log_level="warning",
        )
    )
    server.run()
    dump()


if __name__ == "__main__":
    main()
