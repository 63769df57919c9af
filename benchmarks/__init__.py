"""Benchmarks of tts_nb (not timed tests): polling policies, scale, and the executor hook.

Run each module with `python -m benchmarks.NAME` from the repository root; `--quick` gives a
CI-size run. `benchmarks/README.md` has the results of a full run and the commands.
"""

import os

# The benchmarks measure the engine; the job ledger (SQLite, one write per history row) is
# its own subject, and benchmark jobs do not belong in the user's ledger.
os.environ.setdefault("TTS_NB_LEDGER", "off")
