"""``check --read-data-subset``: which packs a partial read covers, restic's three forms.

- ``n/t``: the packs fall into ``t`` groups by their ids (the id is a hash, so the groups
  are even and stable: the same pack is always in the same group), and group ``n`` is read.
  Running ``1/7`` to ``7/7`` on seven days reads everything once a week.
- ``x%``: a random ``x`` percent of the packs (at least one).
- ``SIZE`` (``500M``, ``2G``): random packs until their bytes reach SIZE.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

from kaikyo.errors import UsageError
from kaikyo.units import parse_size

_GROUP = re.compile(r"(\d+)/(\d+)")
_PERCENT = re.compile(r"(\d+(?:\.\d*)?|\.\d+)%")
HINT = "write n/t (e.g. 2/7: the second of seven groups), x% (e.g. 10%) or a size (e.g. 500M)"


@dataclass(frozen=True, slots=True)
class ReadSubset:
    """One of the three forms; the others' fields are None."""

    group: tuple[int, int] | None = None
    percent: float | None = None
    size: int | None = None

    @classmethod
    def parse(cls, text: str) -> ReadSubset:
        text = text.strip()
        if m := _GROUP.fullmatch(text):
            n, t = int(m.group(1)), int(m.group(2))
            if not 1 <= n <= t:
                raise UsageError(f"--read-data-subset {text!r}: n/t needs 1 <= n <= t", HINT)
            return cls(group=(n, t))
        if m := _PERCENT.fullmatch(text):
            pct = float(m.group(1))
            if not 0 < pct <= 100:
                raise UsageError(
                    f"--read-data-subset {text!r}: a share is above 0 and at most 100%", HINT
                )
            return cls(percent=pct)
        if text and text[0].isdigit():
            size = parse_size(text, "--read-data-subset")
            if size <= 0:
                raise UsageError(f"--read-data-subset {text!r}: a size above 0", HINT)
            return cls(size=size)
        raise UsageError(f"--read-data-subset {text!r} is not a subset", HINT)

    def select(self, packs: Mapping[bytes, int], rng: random.Random | None = None) -> list[bytes]:
        """The packs (id -> stored size) to read, in id order."""
        ids = sorted(packs)
        if self.group is not None:
            n, t = self.group
            return [p for p in ids if int.from_bytes(p[:8], "big") % t == n - 1]
        rng = rng or random.SystemRandom()
        shuffled = ids[:]
        rng.shuffle(shuffled)
        if self.percent is not None:
            count = max(1, round(len(ids) * self.percent / 100)) if ids else 0
            return sorted(shuffled[:count])
        assert self.size is not None
        chosen, total = [], 0
        for p in shuffled:
            if total >= self.size:
                break
            chosen.append(p)
            total += packs[p]
        return sorted(chosen)
