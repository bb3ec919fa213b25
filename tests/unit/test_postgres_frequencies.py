"""The PostgreSQL engine adds term frequencies over arrays: the same bits as one paper at a time."""

import numpy as np
import pytest

from app.engine.postgres import _add_repeated


def _one_by_one(start: float, times: int, weight: float) -> float:
    freq = start
    for _ in range(times):
        freq += weight
    return freq


@pytest.mark.parametrize("weights", [(5.0, 1.0, 2.0), (0.1, 0.7, 1.3), (3.0, 0.35, 2.0), (0.0, 1.0, 0.0)])
def test_repeated_additions_are_the_sequential_sums_to_the_bit(weights):
    rng = np.random.default_rng(7)
    counts = rng.integers(0, 40, size=(500, 3))
    counts[:5] = 0
    counts[5] = [256, 0, 0]  # a tsvector keeps at most 256 positions of a word
    freq = np.zeros(len(counts))
    for column, weight in enumerate(weights):
        freq = _add_repeated(freq, counts[:, column], weight)
    expected = []
    for row in counts.tolist():
        value = 0.0
        for column, weight in enumerate(weights):
            value = _one_by_one(value, row[column], weight)
        expected.append(value)
    assert freq.tolist() == expected  # exact equality, not approx


def test_no_occurrences_leave_the_sum_as_it_was():
    freq = np.array([0.0, 1.5])
    assert _add_repeated(freq, np.array([0, 0]), 0.1) is freq
    assert _add_repeated(np.zeros(0), np.zeros(0, dtype=np.int64), 2.0).size == 0
