"""`python -m tts_nb`: speak a text to a file from the command line.

    python -m tts_nb speak "Hello there" --out hello.wav

Without API keys it runs on the embedded simulator (offline) and says so. It prints the job's
history table (one row per HTTP exchange) and writes the audio.
"""

from __future__ import annotations

import argparse
import sys


def _speak(args: argparse.Namespace) -> int:
    import tts_nb as tn

    if args.speed is not None:
        tn.use_simulator(speed=args.speed)
    client = tn.Typecast(min_interval=args.min_interval)
    voice = args.voice or client.actors().actor_id.iloc[0]
    job = client.speak(args.text, actor_id=voice, lang=args.lang)
    try:
        clip = job.wait(timeout=args.timeout)
    except tn.TTSError as exc:
        print(_history_text(job), file=sys.stderr)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(_history_text(job))
    path = clip.save(args.out)
    print(f"\n{job.status_line()}\nwrote {path} ({clip!r})")
    return 0


def _history_text(job) -> str:
    import pandas as pd

    columns = [
        "n",
        "elapsed_s",
        "step",
        "method",
        "http_status",
        "latency_s",
        "raw_status",
        "state",
        "next_poll_in_s",
    ]
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        return job.history[columns].to_string(index=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tts_nb", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    speak = commands.add_parser("speak", help="synthesize TEXT with Typecast into a file")
    speak.add_argument("text")
    speak.add_argument("--out", default="speech.wav", help="output file (default speech.wav)")
    speak.add_argument("--voice", help="actor id or name (default: the first actor)")
    speak.add_argument("--lang", default="auto")
    speak.add_argument("--timeout", type=float, default=300.0, help="seconds to wait at most")
    speak.add_argument(
        "--min-interval",
        type=float,
        default=None,
        help="fastest polling allowed, seconds (default: Typecast's 1 s)",
    )
    speak.add_argument(
        "--speed", type=float, default=None, help="simulator only: run jobs this many times faster"
    )
    args = parser.parse_args(argv)
    return _speak(args)


if __name__ == "__main__":
    sys.exit(main())
