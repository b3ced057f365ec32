"""A fixed split of a labeled set into ``tune`` (develop against it) and ``check`` (measure on
it before fixing what it shows), by a hash of the letter id so it never depends on order."""

from __future__ import annotations

import hashlib
from typing import Literal

Split = Literal["tune", "check"]
SPLITS: tuple[Split, ...] = ("tune", "check")


def base_letter_id(letter_id: str) -> str:
    """The real letter a labeled variant comes from: ``CM16-0213037__flip-decision`` ->
    ``CM16-0213037``, so every variant of a letter falls on the letter's side."""
    return letter_id.split("__", 1)[0]


def split_of(letter_id: str) -> Split:
    """``check`` for about one letter in three, ``tune`` for the rest."""
    h = int(hashlib.sha256(base_letter_id(letter_id).encode()).hexdigest()[:8], 16)
    return "check" if h % 3 == 0 else "tune"
