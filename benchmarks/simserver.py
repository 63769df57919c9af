"""The simulator in its own process, for measurements that must not count it (threads, CPU,
memory), with one addition `python -m tts_nb.simulator` does not need: it tells the true
duration of every speak job, so a benchmark can compare its wall time with the longest job.

    python -m benchmarks.simserver --speed 1 --seed 1
    {"typecast": "http://127.0.0.1:…", …, "credentials": {…}}      (then, one per line on stdin)
    durations                                                        → {"<speak id>": seconds, …}
"""

from __future__ import annotations

import argparse
import json
import sys

from tts_nb.simulator import Simulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.simserver")
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    with Simulator(speed=args.speed, seed=args.seed) as sim:
        print(json.dumps(sim.info()), flush=True)
        for line in sys.stdin:  # ends when the benchmark closes our stdin
            if line.strip() == "durations":
                speaks = dict(sim.typecast._speaks)  # real seconds: simulator seconds / speed
                print(json.dumps({k: s.duration_s / args.speed for k, s in speaks.items()}))
                sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
