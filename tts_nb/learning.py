"""Warm a client's `DurationModel` from the ledger, so learning survives a kernel restart.

A new kernel's client would otherwise plan its first jobs from the provider's prior, although
the ledger (`tts_nb.ledger`) holds how long every earlier job took. What a job teaches is what
its poller saw: the job was still running at its last look that was not done, and done at the
look that found it done (`DurationModel.observe_interval`), both counted from the moment the
submit was answered, as the engine counts them. Those times come from the job's history rows.

Only jobs of the same provider and endpoint are read (a simulator's or a proxy's durations say
nothing about the real service), optionally of some kinds (the provider's APIs) only; the
newest are fed last, so the model's recency weighting counts them most, and only as many as
the model keeps.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from . import ledger as ledgers
from .policy import DurationModel

log = logging.getLogger(__name__)

Interval = tuple[int, float, float]  # (characters, still running at s, found done at s)


def done_interval(rows: Iterable[Mapping[str, Any]]) -> tuple[float, float] | None:
    """When a job ended, from its history rows: (the last look not done, the look that found
    it done), in seconds after its submit was answered; None when the rows cannot say (no
    answered submit, never seen done, or a restart between the two looks, when nobody looked).
    """
    answered: float | None = None
    low: float | None = None
    for row in rows:
        step = row.get("step")
        if step == "resumed":
            low = None  # the job ran unobserved while no kernel looked
            continue
        if step not in ("submit", "poll") or not isinstance(row.get("time"), (int, float)):
            continue
        at = float(row["time"]) + float(row.get("latency_s") or 0.0)  # the answer's arrival
        if step == "submit":
            if row.get("http_status") is not None and 200 <= row["http_status"] < 300:
                answered, low = at, 0.0
            continue
        if answered is None or low is None:
            continue
        if row.get("state") == "SUCCEEDED":
            high = at - answered
            return (low, high) if high > 0 else None
        if row.get("state") in ("PENDING", "RUNNING"):
            low = at - answered
    return None


def intervals(
    ledger: ledgers.Ledger,
    provider: str,
    endpoint: str,
    *,
    kinds: Collection[str] | None = None,
    limit: int = 50,
) -> list[Interval]:
    """The done-intervals of the newest `limit` finished jobs of this provider and endpoint
    (and kinds, when given) in `ledger`, oldest first."""
    endpoint = endpoint.rstrip("/")
    finished = [
        r
        for r in ledger.records()
        if r["provider"] == provider
        and r["endpoint"] == endpoint
        and r["state"] == "SUCCEEDED"
        and not r.get("reused_from")
        and (kinds is None or r["kind"] in kinds)
        and isinstance((r.get("request") or {}).get("text"), str)
    ]
    finished.sort(key=lambda r: r.get("finished_at") or r["updated_at"])
    # A few extra, since some histories cannot say when their job ended.
    out: list[Interval] = []
    for record in finished[-2 * limit :]:
        seen = done_interval(ledger.rows([record["id"]]))  # in order; one job's rows
        if seen is not None:
            out.append((len(record["request"]["text"]), *seen))
    return out[-limit:]


def teach(model: DurationModel, seen: Iterable[Interval]) -> DurationModel:
    """Feed `seen` (oldest first) to `model`; returns the model."""
    for characters, low, high in seen:
        model.observe_interval(characters, low, high)
    return model


def warmed(
    model: DurationModel,
    provider: str,
    endpoint: str,
    *,
    kinds: Collection[str] | None = None,
    ledger: ledgers.Ledger | None = None,
) -> DurationModel:
    """`model` taught by the ledger's finished jobs of this provider and endpoint (the ledger
    in use by default). A ledger that cannot be read leaves the model as it was: warming is
    an optimisation, never a reason for a client not to start."""
    ledger = ledger if ledger is not None else ledgers.current()
    if ledger is None:
        return model
    try:
        seen = intervals(ledger, provider, endpoint, kinds=kinds, limit=model.window)
    except ledgers.LEDGER_ERRORS as exc:
        log.warning("tts_nb: the ledger could not be read to learn job durations: %s", exc)
        return model
    return teach(model, seen)


__all__ = ["done_interval", "intervals", "teach", "warmed"]
