"""Mutation scores per module from mutmut's results, when not every mutant can be run.

mutmut runs the cheapest mutants first, so a run stopped early is not a fair picture of a
module: its costliest functions (the ones most tests reach) are the ones left out. This
script keeps the picture fair on a budget:

    python scripts/mutation_score.py sample 15 --seed 1 > sample.txt   # per file, of the unrun
    .venv/bin/mutmut run --max-children 2 $(cat sample.txt)
    python scripts/mutation_score.py score sample.txt                   # the table

`score` treats each file as one stratum: the mutants already run count as they are, and the
rest of the file is estimated from the newest sample run in it (killed share x the rest, with a
95 % Wilson interval); a sample is drawn from the mutants not run when it is drawn.
Equivalent mutants, the ones named in the "Equivalent mutants" section of
tests/mutation-equivalents.md, leave the denominator; the ones in its "Killed after the run"
section (a test written later fails under each, shown by applying it by hand) count as killed
until mutmut runs them again. Run it from the project root.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
from pathlib import Path

KILLED = {1, 3, 24, -24, 36, 152, 255}  # mutmut: a test failed, or the mutant ran out of time
NOT_RUN = {None, 2, -9, -11}  # never run, or stopped from outside
EQUIVALENTS = Path("tests/mutation-equivalents.md")


def results() -> dict[str, dict[str, int | None]]:
    """{file: {mutant: exit code or None}} from mutmut's `mutants/**/*.meta`."""
    found = {}
    for meta in sorted(Path("mutants").glob("tts_nb/**/*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        name = str(meta.relative_to("mutants"))[: -len(".meta")]
        found[name] = {key: None if code in NOT_RUN else code for key, code in codes.items()}
    return found


def sample(per_file: int, seed: int) -> list[str]:
    """Up to `per_file` unrun mutants of each file, drawn at random (seeded)."""
    rng = random.Random(seed)
    picked = []
    for codes in results().values():
        unrun = sorted(key for key, code in codes.items() if code is None)
        picked += rng.sample(unrun, min(per_file, len(unrun)))
    return picked


def _section(path: Path, title: str = "## Equivalent mutants") -> str:
    """The text of one `## ` section of a Markdown file (the open survivors are listed apart)."""
    text = path.read_text()
    start = text.index(title)
    end = text.find("\n## ", start + len(title))
    return text[start : end if end >= 0 else len(text)]


def _names(text: str) -> set[str]:
    """The mutant names written in backticks in `text`."""
    return set(re.findall(r"`(tts_nb\.[^`\s]+__mutmut_\d+)`", text))


def _share(killed: int, drawn: int) -> tuple[float, tuple[float, float]]:
    """The killed share of a sample and its 95 % Wilson interval (sound at 0 and 100 %)."""
    z, share = 1.96, killed / drawn
    middle = (share + z * z / (2 * drawn)) / (1 + z * z / drawn)
    half = z * math.sqrt(share * (1 - share) / drawn + z * z / (4 * drawn * drawn))
    half /= 1 + z * z / drawn
    return share, (middle - half, middle + half)


def score(sample_files: list[Path], by_hand: bool = True) -> list[dict[str, object]]:
    """One row per file: mutants, how many ran in full and in the sample, the estimate."""
    samples = [set(path.read_text().split()) for path in sample_files]
    equivalent = _names(_section(EQUIVALENTS))
    killed = _names(_section(EQUIVALENTS, "## Killed after the run")) if by_hand else set()
    rows = []
    for name, every in results().items():
        codes = {key: 1 if key in killed else code for key, code in every.items()}
        codes = {key: code for key, code in codes.items() if key not in equivalent}
        # the newest sample run in this file estimates its unrun rest; earlier ones are known
        ran = [s for s in samples if any(codes.get(key) is not None for key in s)]
        sampled = ran[-1] if ran else set()
        full = [code for key, code in codes.items() if key not in sampled and code is not None]
        drawn = [code for key, code in codes.items() if key in sampled and code is not None]
        killed_full = sum(code in KILLED for code in full)
        rest = len(codes) - len(full)
        if drawn:
            share, (low, high) = _share(sum(code in KILLED for code in drawn), len(drawn))
            bounds = (share, low, high)
            estimate, low, high = ((killed_full + rest * p) / len(codes) for p in bounds)
        else:
            estimate = killed_full / len(codes) if codes and rest == 0 else math.nan
            low = high = estimate
        rows.append(
            {
                "module": name,
                "mutants": len(codes),
                "equivalent": len(every) - len(codes),
                "run_in_full": f"{killed_full}/{len(full)}",
                "sample": f"{sum(code in KILLED for code in drawn)}/{len(drawn)} of {rest}",
                "score": estimate,
                "interval": (low, high),
                "open": sorted(
                    key for key, code in codes.items() if code is not None and code not in KILLED
                ),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    draw = commands.add_parser("sample", help="print a random sample of unrun mutants")
    draw.add_argument("per_file", type=int)
    draw.add_argument("--seed", type=int, default=1)
    table = commands.add_parser("score", help="print the score per module")
    table.add_argument("samples", nargs="*", type=Path, help="the sample lists that were run")
    table.add_argument("--open", action="store_true", help="also list the surviving mutants")
    table.add_argument(
        "--as-run", action="store_true", help="only mutmut's verdicts (no kills shown by hand)"
    )
    args = parser.parse_args()
    if args.command == "sample":
        print("\n".join(sample(args.per_file, args.seed)))
        return
    print(
        "| module | mutants | equivalent | run in full (killed/run) "
        "| sample (killed/run of the rest) | score (95 % interval) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in score(args.samples, by_hand=not args.as_run):
        shown = "not run" if math.isnan(row["score"]) else f"{100 * row['score']:.1f} %"
        low, high = row["interval"]
        if high - low > 1e-9:
            shown += f" ({100 * low:.0f}–{100 * high:.0f})"
        print(
            f"| {row['module']} | {row['mutants']} | {row['equivalent']} | {row['run_in_full']} "
            f"| {row['sample']} | {shown} |"
        )
        if args.open:
            for key in row["open"]:
                print(f"|   `{key}` | | | | | open |")


if __name__ == "__main__":
    main()
