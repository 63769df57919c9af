"""The provider-facing half of a job: `Operation`, the `Call` it sends through, the
`Observation` it answers with.

An adapter translates one provider's protocol into these and nothing else: no sleeping, no
threads, no retries, so the same `Job` engine drives every provider, on a real or a virtual
clock. Kept out of job.py so a new adapter's author reads three small types, not the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .state import State
from .transport import Exchange, Transport


@dataclass(frozen=True)
class Observation:
    """What one answer from the provider told us.

    Attributes:
        state: the canonical state the provider's status maps to.
        raw_status: the provider's own status string, always kept.
        ids: provider ids learned from this answer (task_id, run_id, poll URL…).
        message: the provider's detail, or our advice for this state.
        retry_after: seconds the server asked us to wait before the next request.
        payload: anything the fetch step needs from this answer (e.g. inline audio).
    """

    state: State
    raw_status: str | None = None
    ids: Mapping[str, Any] = field(default_factory=dict)
    message: str | None = None
    retry_after: float | None = None
    payload: Any = None


class Call:
    """A provider's handle on the transport for one step of one job (records its exchanges)."""

    def __init__(self, transport: Transport, recorder: Callable[[Exchange], None], step: str):
        self.transport = transport
        self.step = step
        self._recorder = recorder

    def request(self, method: str, url: str, **kwargs):
        return self.transport.request(
            method, url, step=self.step, recorder=self._recorder, **kwargs
        )

    def request_json(self, method: str, url: str, **kwargs):
        """Send a request and return its JSON body (ProviderError when it is not JSON)."""
        return self.transport.json_of(self.request(method, url, **kwargs))


class Operation(Protocol):
    """The protocol half of a job. No sleeping, no threads: one method per step."""

    provider: str
    kind: str

    def submit(self, call: Call) -> Observation: ...

    def poll(self, call: Call, ids: Mapping[str, Any]) -> Observation: ...

    def fetch(self, call: Call, ids: Mapping[str, Any], seen: Observation) -> Any: ...

    # Optional: `cancel(call, ids) -> str` asks the provider to drop a submitted job (Aspose's
    # DELETE) and returns what it answered, in words, for the history. Without it a cancel
    # only stops polling.
