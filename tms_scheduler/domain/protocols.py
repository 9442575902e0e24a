from __future__ import annotations

from dataclasses import dataclass

COILS = ("figure-8", "h1")


@dataclass(frozen=True)
class Phase:
    """A run of sessions given on `days_per_week` treatment days of each week."""

    sessions: int
    days_per_week: int


@dataclass(frozen=True)
class Cadence:
    """How a protocol lays its sessions out in time.

    The first phase is the daily phase; later phases are the taper. Accelerated
    protocols give `sessions_per_day` sessions a day, each starting at least
    `min_gap_minutes` after the previous one ends.
    """

    phases: tuple[Phase, ...]
    mapping_minutes: int
    session_minutes: int
    sessions_per_day: int = 1
    min_gap_minutes: int = 0

    @property
    def total_sessions(self) -> int:
        return sum(p.sessions for p in self.phases)

    @property
    def daily_phase_sessions(self) -> int:
        return self.phases[0].sessions

    def minutes_of(self, number: int) -> int:
        return self.mapping_minutes if number == 1 else self.session_minutes

    def problems(self) -> dict[str, str]:
        """The reasons this cadence cannot be planned, by field; empty when it is sound."""
        found: dict[str, str] = {}
        if not self.phases:
            found["phases"] = "a protocol needs at least one phase"
        for i, phase in enumerate(self.phases):
            if phase.sessions < 1:
                found[f"phases.{i}.sessions"] = "must be at least 1"
            if not 1 <= phase.days_per_week <= 7:
                found[f"phases.{i}.days_per_week"] = "must be between 1 and 7"
        if self.sessions_per_day < 1:
            found["sessions_per_day"] = "must be at least 1"
        if self.sessions_per_day > 1 and len(self.phases) > 1:
            found["sessions_per_day"] = "several sessions a day are only planned for a single-phase protocol"
        if self.mapping_minutes < 1 or self.session_minutes < 1:
            found["session_minutes"] = "session lengths must be positive"
        if self.min_gap_minutes < 0:
            found["min_gap_minutes"] = "must not be negative"
        return found


@dataclass(frozen=True)
class Protocol:
    id: str
    name: str
    coil: str
    cadence: Cadence
