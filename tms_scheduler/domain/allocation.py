"""Putting planned sessions into chairs."""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from .planning import PlannedSession


class ChairBook:
    """The busy times of a set of chairs, each chair's kept sorted and non-overlapping."""

    def __init__(self, chair_ids: Iterable[int], busy: Iterable[tuple[int, datetime, datetime]] = ()):
        self._starts: dict[int, list[datetime]] = {c: [] for c in chair_ids}
        self._ends: dict[int, list[datetime]] = {c: [] for c in self._starts}
        for chair_id, start, end in sorted(busy, key=lambda b: (b[0], b[1])):
            if chair_id in self._starts:
                self._starts[chair_id].append(start)
                self._ends[chair_id].append(end)

    @property
    def chair_ids(self) -> list[int]:
        return list(self._starts)

    def is_free(self, chair_id: int, start: datetime, end: datetime) -> bool:
        """No busy time in the chair overlaps [start, end)."""
        starts = self._starts[chair_id]
        i = bisect_left(starts, end)  # bookings that start before `end` are starts[:i]
        if i == 0:
            return True
        # Busy times never overlap, so the one starting last before `end` also ends last.
        return self._ends[chair_id][i - 1] <= start

    def take(self, chair_id: int, start: datetime, end: datetime) -> None:
        starts, ends = self._starts[chair_id], self._ends[chair_id]
        i = bisect_left(starts, start)
        starts.insert(i, start)
        ends.insert(i, end)

    def release(self, chair_id: int, start: datetime, end: datetime) -> bool:
        """Frees exactly this busy time; answers whether the book held it."""
        starts, ends = self._starts.get(chair_id, []), self._ends.get(chair_id, [])
        for i in range(bisect_left(starts, start), len(starts)):
            if starts[i] != start:
                break
            if ends[i] == end:
                del starts[i], ends[i]
                return True
        return False


@dataclass(frozen=True)
class Allocation:
    chairs: dict[int, int]  # session number -> chair id
    unplaced: tuple[PlannedSession, ...]

    @property
    def complete(self) -> bool:
        return not self.unplaced

    def chair_ids_by_use(self) -> list[int]:
        counts: dict[int, int] = {}
        for chair_id in self.chairs.values():
            counts[chair_id] = counts.get(chair_id, 0) + 1
        return sorted(counts, key=lambda c: (-counts[c], c))


def allocate(sessions: Sequence[PlannedSession], book: ChairBook) -> Allocation:
    """Give each session a free chair, preferring one chair for the whole course.

    Chairs are ranked by how many of the course's sessions they could hold; each
    session takes the best-ranked chair free at its time. The book is not changed.
    """
    free = {
        chair_id: sum(book.is_free(chair_id, s.starts_at, s.ends_at) for s in sessions)
        for chair_id in book.chair_ids
    }
    ranked = sorted(free, key=lambda c: (-free[c], c))
    chairs: dict[int, int] = {}
    unplaced: list[PlannedSession] = []
    # A course's own sessions never overlap one another (one a day, or spaced by the
    # protocol's gap), so only the book's busy times need checking.
    for s in sessions:
        for chair_id in ranked:
            if book.is_free(chair_id, s.starts_at, s.ends_at):
                chairs[s.number] = chair_id
                break
        else:
            unplaced.append(s)
    return Allocation(chairs, tuple(unplaced))
