"""The differencing check's pair finder must pair exactly the rows the pairwise rule pairs."""

from __future__ import annotations

import random

import pytest

from egress_review.checks.differencing import MAX_PAIRS, _containment, comparable_pairs

pytestmark = pytest.mark.unit


def _brute(new: list[str], old: list[str]) -> list[tuple[int, int, int]]:
    out = []
    for i, a in enumerate(new):
        for j, b in enumerate(old):
            c = _containment(a, b)
            if c is not None:
                out.append((i, j, c))
    return out


def _label(rng: random.Random) -> str:
    district = rng.choice(["Grefsen", "Sagene", "Frogner"])
    lo = rng.choice([16, 18, 20, 25, 30, 67])
    last = rng.choice([
        f"{lo}-{lo + rng.choice([4, 9, 49])}", f"{lo} - {lo + 4}", f"{lo}+", f"under {lo}", f"{lo} til {lo + 9}",
        str(lo), "K", "M", "Total",
    ])
    return rng.choice([last, f"{district} / {last}", f"{district} / {rng.choice('KM')} / {last}"])


@pytest.mark.parametrize("seed", range(25))
def test_same_pairs_as_comparing_every_pair(seed):
    rng = random.Random(seed)
    new = [_label(rng) for _ in range(rng.randint(0, 120))]
    old = [_label(rng) for _ in range(rng.randint(0, 120))]
    assert comparable_pairs(new, old) == _brute(new, old)


def test_nested_ranges_and_same_labels():
    assert comparable_pairs(["18-67", "Grefsen"], ["18-66", "Grefsen", "20-24", "18-67"]) == [
        (0, 0, 1), (0, 2, 1), (0, 3, 0), (1, 1, 0)]
    assert comparable_pairs(["18 - 67"], ["18-67"]) == []  # the same range written differently is not nested


def test_too_many_pairs_compares_nothing():
    rows = ["Total"] * (int(MAX_PAIRS ** 0.5) + 2)
    assert comparable_pairs(rows, rows) == []
