"""`python -m tts_nb`: speak a text to a file, or check your accounts, from the command line.

    python -m tts_nb speak "Hello there" --out hello.wav
    python -m tts_nb doctor [--speak]

Without API keys `speak` runs on the embedded simulator (offline) and says so. It prints the
job's history table (one row per HTTP exchange) and writes the audio. `doctor` checks every
provider whose keys are set with free requests (which API a key belongs to, auth, plan and
credits, catalogue, latency) and exits non-zero on a problem; `--speak` also sends one short
sentence per provider, saying its cost first.
"""

from __future__ import annotations

import argparse
import sys


def _speak(args: argparse.Namespace) -> int:
    import tts_nb as tn

    if args.speed is not None:
        tn.use_simulator(speed=args.speed)
    from .adapters import adapter_for

    client = tn.Typecast(min_interval=args.min_interval)
    adapter = adapter_for(client)  # v1 (voice_id, language) or legacy (actor_id, lang)
    voice = args.voice or adapter.voice_options(client)[0][1]
    job = adapter.speak(client, args.text, voice, args.lang, {})
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
        return job.history_full[columns].to_string(index=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tts_nb", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    speak = commands.add_parser("speak", help="synthesize TEXT with Typecast into a file")
    speak.add_argument("text")
    speak.add_argument("--out", default="speech.wav", help="output file (default speech.wav)")
    speak.add_argument(
        "--voice", help="voice (v1) or actor (legacy) id or name (default: the first one)"
    )
    speak.add_argument(
        "--lang", default="auto", help="auto, or the API's code (v1: eng, kor…; legacy: en-us…)"
    )
    speak.add_argument("--timeout", type=float, default=300.0, help="seconds to wait at most")
    speak.add_argument(
        "--min-interval",
        type=float,
        default=None,
        help="legacy: fastest polling allowed, seconds (default 1 s); v1: shortest wait "
        "before a request refused for the concurrency limit is sent again",
    )
    speak.add_argument(
        "--speed", type=float, default=None, help="simulator only: run jobs this many times faster"
    )
    check = commands.add_parser(
        "doctor", help="check the accounts whose keys are set (free requests only)"
    )
    check.add_argument(
        "--speak",
        action="store_true",
        help="also synthesize one short sentence per provider (charged; the cost is said first)",
    )
    args = parser.parse_args(argv)
    if args.command == "doctor":
        return _doctor(args)
    return _speak(args)


def _doctor(args: argparse.Namespace) -> int:
    from .diagnose import doctor

    report = doctor(speak=args.speak)
    print(repr(report))
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
