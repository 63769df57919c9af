"""The simulator as a whole: its clock, credentials, origins, request log and faults."""

from __future__ import annotations

import random
import secrets
import threading
import time

from .aspose import AsposeApp
from .camb import CambApp
from .cdn import CdnApp
from .faults import ALL_KINDS, Faults
from .server import Origin, RequestLog
from .typecast import TypecastApp
from .typecast_v1 import TypecastV1App


class SimClock:
    """Simulator time in seconds: real time times `speed`, plus whatever `advance()` added.

    Job durations and link lifetimes are expressed in simulator seconds, so `speed=60` makes a
    one-minute job take a second, and `advance(25 * 3600)` expires every 24-hour link at once.
    """

    def __init__(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = speed
        self._start = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return (time.monotonic() - self._start) * self.speed + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds


class Simulator:
    """Serves the providers' APIs (Typecast's two: legacy and v1) and the download CDN on
    127.0.0.1.

    Args:
        port: the first origin's port (the others take the next ones); 0 picks free ports.
        seed: makes credentials, ids, job durations and random faults reproducible.
        speed: how much faster than the real services jobs run (durations are divided by it).
        fault_rate: probability of a random fault on any request (see `faults`).
        fault_kinds: which faults random ones are drawn from.

    Example:
        >>> with Simulator(speed=20) as sim:
        ...     tc = tn.Typecast(api_key=sim.credentials["typecast_api_key"],
        ...                      base_url=sim.urls["typecast"])
    """

    def __init__(
        self,
        *,
        port: int = 0,
        seed: int | None = None,
        speed: float = 1.0,
        fault_rate: float = 0.0,
        fault_kinds: tuple[str, ...] = ALL_KINDS,
    ) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.clock = SimClock(speed)
        self.log = RequestLog()
        self.faults = Faults(fault_rate, fault_kinds, seed=None if seed is None else seed + 1)
        token = self._token
        self.credentials = {
            "typecast_api_key": f"tc-sim-{token(16)}",
            "camb_api_key": f"camb-sim-{token(16)}",
            "aspose_client_id": f"aspose-sim-{token(8)}",
            "aspose_client_secret": token(20),
            "typecast_v1_api_key": f"tc1-sim-{token(16)}",  # keys of the two APIs do not mix
        }
        self.cdn = CdnApp(self)
        self.typecast = TypecastApp(self)
        self.camb = CambApp(self)
        self.aspose = AsposeApp(self)
        self.typecast_v1 = TypecastV1App(self)
        self.apps = [self.typecast, self.camb, self.aspose, self.cdn, self.typecast_v1]
        self.origins = {
            app.name: Origin(app, self.log, self.faults, port=port + i if port else 0)
            for i, app in enumerate(self.apps)
        }
        self._started = False

    def _token(self, nbytes: int) -> str:
        if self.seed is None:
            return secrets.token_hex(nbytes)
        return f"{self.rng.getrandbits(nbytes * 8):0{nbytes * 2}x}"

    def url(self, name: str) -> str:
        return self.origins[name].url

    @property
    def urls(self) -> dict[str, str]:
        """The base URL each client takes as `base_url`."""
        return {
            app.name: app.base_url() if hasattr(app, "base_url") else self.url(app.name)
            for app in self.apps
        }

    def info(self) -> dict:
        """What the CLI prints: base URLs and the credentials this simulator accepts."""
        return {**self.urls, "credentials": dict(self.credentials)}

    def advance(self, seconds: float) -> None:
        """Jump simulator time forward (finishes jobs, expires links) without waiting."""
        self.clock.advance(seconds)

    def start(self) -> Simulator:
        if not self._started:
            for origin in self.origins.values():
                origin.start()
            self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            stoppers = [  # each waits up to one poll interval: stop them side by side
                threading.Thread(target=origin.stop) for origin in self.origins.values()
            ]
            for stopper in stoppers:
                stopper.start()
            for stopper in stoppers:
                stopper.join()
            self._started = False

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._started else "stopped"
        return f"<Simulator {state} speed={self.clock.speed:g} {self.urls}>"
