"""The canonical job states every provider's own status vocabulary is mapped onto."""

from __future__ import annotations

import enum


class State(str, enum.Enum):
    """Where a job stands. The provider's own status string is kept beside it as `raw_status`."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    PAYMENT_REQUIRED = "PAYMENT_REQUIRED"
    NOT_FOUND = "NOT_FOUND"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"

    @property
    def terminal(self) -> bool:
        """True once nothing more will happen to the job."""
        return self not in (State.PENDING, State.RUNNING)

    def __str__(self) -> str:
        return self.value
