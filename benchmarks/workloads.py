"""Job-duration workloads per provider, and the seeds' own polling strategies.

Durations grow with text length, with multiplicative noise, as the simulator models them:
Typecast uses the simulator's own formula (`tts_nb/simulator/typecast.py`, `_duration`),
CAMB.AI translated-tts jobs take about 2–5 minutes (the seed and CAMB's docs), Aspose's
text-to-speech takes seconds. Minimum intervals, deadlines and duration priors come from the
provider clients where those exist, so the benchmark follows the library's own settings.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass

import tts_nb as tn


def _client_setting(client: str, attribute: str, default):
    """A provider client's class setting (e.g. `Typecast.default_min_interval`), if it exists."""
    return getattr(getattr(tn, client, None), attribute, default)


@dataclass(frozen=True)
class Workload:
    """How one provider's jobs arrive and how long they take.

    Attributes:
        provider: the name shown in tables.
        min_interval: the fastest polling the provider allows (the engine enforces it).
        timeout: the provider's default job deadline in seconds.
        prior: the duration model's prior (a, b) in `seconds = a + b * characters`.
        chars: the range of text lengths; `log_chars` draws them log-uniformly (a sentence to a
            page) instead of uniformly.
        base: the true mean line (a, b) jobs follow.
        noise: the sigma of the log-normal factor around the line.
        in_flight: about how many jobs run at once (sets the arrival rate).
        name: the workload's name in tables (the provider's by default).
        queue: (share, seconds): that share of jobs waits in a queue first, for 0.5-1.5 x the
            seconds (bimodal durations).
        drift: the service gets this many times slower for the second half of the jobs.
        tail: the shape of a Pareto factor on every duration (heavy tail; smaller = heavier).
    """

    provider: str
    min_interval: float
    timeout: float
    prior: tuple[float, float]
    chars: tuple[int, int]
    base: tuple[float, float]
    noise: float
    log_chars: bool = False
    in_flight: int = 10
    name: str = ""
    queue: tuple[float, float] | None = None
    drift: float = 1.0
    tail: float | None = None

    @property
    def label(self) -> str:
        return self.name or self.provider

    def duration(self, characters: int, rng: random.Random, progress: float = 0.0) -> float:
        """One job's duration; `progress` is its place in the run (0 first, 1 last)."""
        a, b = self.base
        seconds = (a + b * characters) * rng.lognormvariate(0.0, self.noise)
        if self.tail is not None:
            seconds *= rng.paretovariate(self.tail)
        if self.queue is not None and rng.random() < self.queue[0]:
            seconds += self.queue[1] * rng.uniform(0.5, 1.5)
        return seconds * (self.drift if progress >= 0.5 else 1.0)

    def characters(
        self, rng: random.Random, low: int | None = None, high: int | None = None
    ) -> int:
        """A text length in `low`..`high` (the workload's range by default)."""
        low, high = low or self.chars[0], high or self.chars[1]
        if self.log_chars:
            return round(math.exp(rng.uniform(math.log(low), math.log(high))))
        return rng.randint(low, high)

    def jobs(self, n: int, seed: int = 0) -> list[tuple[int, float, float]]:
        """`n` jobs as (characters, duration, arrival time), the same for a given seed."""
        rng = random.Random(seed)
        mean = self.base[0] + self.base[1] * sum(self.chars) / 2
        arrival, out = 0.0, []
        for i in range(n):
            characters = self.characters(rng)
            out.append((characters, self.duration(characters, rng, i / n), arrival))
            arrival += rng.expovariate(self.in_flight / mean)
        return out


TYPECAST = Workload(
    provider="typecast",
    min_interval=_client_setting("Typecast", "default_min_interval", 1.0),
    timeout=_client_setting("Typecast", "default_timeout", 30 * 60.0),
    prior=_client_setting("Typecast", "duration_prior", (1.0, 0.06)),
    chars=(20, 2000),
    log_chars=True,
    base=(1.0, 0.06),  # the simulator's formula: (1 + 0.06 * chars) * lognormal(0, 0.25)
    noise=0.25,
)

CAMB = Workload(
    provider="camb",
    min_interval=_client_setting("Camb", "default_min_interval", 3.0),
    timeout=_client_setting("Camb", "default_timeout", 30 * 60.0),
    prior=_client_setting("Camb", "duration_prior", (180.0, 0.0)),
    chars=(100, 1000),
    base=(100.0, 0.2),  # 120 s for 100 characters to 300 s for 1000: "typically 2-5 minutes"
    noise=0.08,
)

ASPOSE = Workload(
    provider="aspose",
    min_interval=_client_setting("Aspose", "default_min_interval", 1.0),
    timeout=_client_setting("Aspose", "default_timeout", 10 * 60.0),
    prior=_client_setting("Aspose", "duration_prior", (3.0, 0.0)),
    chars=(20, 500),
    base=(1.0, 0.01),  # 1.2 s to 6 s: "a couple of seconds"
    noise=0.3,
)

WORKLOADS = {w.provider: w for w in (TYPECAST, CAMB, ASPOSE)}

# Services that do not follow the model's assumptions (a line in text length, log-normal
# noise): a queue in front of CAMB (a third of the jobs wait another 1-3 minutes first),
# Typecast getting twice as slow halfway through the run (peak hours), and Aspose with a
# Pareto tail (shape 2: one job in 100 takes 10 x its usual time).
HOSTILE = {
    w.name: w
    for w in (
        dataclasses.replace(CAMB, name="camb-queue", queue=(0.3, 120.0)),
        dataclasses.replace(TYPECAST, name="typecast-drift", drift=2.0),
        dataclasses.replace(ASPOSE, name="aspose-heavy", tail=2.0),
    )
}

# The seeds' own sample loops, as policies (see ../shared/seeds and notes/provider-apis.md).
SEED_SAMPLES: dict[str, dict[str, tn.PollPolicy]] = {
    "typecast": {"Typecast sample (60 s, 120 min)": tn.Fixed(60, timeout=120 * 60)},
    "camb": {
        "CAMB JS sample (10 s, 30 polls)": tn.Fixed(10, max_polls=30),
        "CAMB Python sample (5 s)": tn.Fixed(5),
    },
    "aspose": {},
}
