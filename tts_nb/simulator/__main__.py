"""`python -m tts_nb.simulator`: run the simulator until interrupted.

Prints exactly one JSON line with the base URLs and the credentials it accepts, then serves.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from .core import Simulator
from .faults import ALL_KINDS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tts_nb.simulator",
        description="Serve the Typecast, CAMB.AI and Aspose APIs offline on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="first port (0: any free ports)")
    parser.add_argument("--seed", type=int, default=None, help="reproducible ids and timings")
    parser.add_argument("--speed", type=float, default=1.0, help="job durations divided by this")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of requests that fail")
    parser.add_argument(
        "--fault-kinds",
        default=",".join(ALL_KINDS),
        help=f"comma-separated kinds of random faults (from {','.join(ALL_KINDS)})",
    )
    args = parser.parse_args(argv)
    kinds = tuple(kind for kind in args.fault_kinds.split(",") if kind)
    try:
        sim = Simulator(
            port=args.port,
            seed=args.seed,
            speed=args.speed,
            fault_rate=args.fault_rate,
            fault_kinds=kinds,
        ).start()
    except (OSError, ValueError) as exc:
        print(f"tts_nb.simulator: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(sim.info()), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
