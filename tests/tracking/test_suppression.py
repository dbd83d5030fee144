"""Small-cell and complementary suppression, checked against an independent linear-algebra test of
what a reader can recover by subtraction from the published values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.tracking.domain.suppression import augmented, suppress
from services.tracking.queries.reports import publish
from services.tracking.settings import TrackingSettings
from tests.tracking.disclosure import recoverable

pytestmark = pytest.mark.unit


def shown_grid(cells: list[list[int]], threshold: int) -> list[list[int | None]]:
    hidden = suppress(cells, threshold)
    return [
        [None if (i, j) in hidden else v for j, v in enumerate(row)] for i, row in enumerate(augmented(cells))
    ]


counts = st.one_of(st.just(0), st.integers(1, 10), st.integers(11, 60))
grids = st.integers(1, 6).flatmap(
    lambda cols: st.lists(st.lists(counts, min_size=cols, max_size=cols), min_size=1, max_size=7)
)


@settings(max_examples=300, deadline=None)
@given(grids, st.sampled_from([11, 11, 15, 25]))
def test_no_small_value_is_published_and_no_hidden_one_is_recoverable(
    cells: list[list[int]], threshold: int
) -> None:
    shown = shown_grid(cells, threshold)
    truth = augmented(cells)
    for i, row in enumerate(shown):
        for j, v in enumerate(row):
            assert v is None or v == 0 or v >= threshold, (cells, i, j)
            assert v is None or v == truth[i][j]
    assert recoverable(shown) == [], cells


def test_a_lone_small_cell_takes_a_rectangle_with_it() -> None:
    cells = [[3, 40], [20, 30]]
    shown = shown_grid(cells, 11)
    assert shown[0][0] is None
    hidden = sum(v is None for row in shown for v in row)
    assert hidden >= 4 and recoverable(shown) == []
    assert shown[1][1] is None or shown[0][2] is None  # a complement in its row or column


def test_the_independent_check_does_catch_a_recoverable_cell() -> None:
    shown: list[list[int | None]] = [[None, 40, 43], [20, 30, 50], [23, 70, 93]]
    assert recoverable(shown) == [(0, 0)]


def test_a_table_with_nothing_small_is_published_whole() -> None:
    assert suppress([[11, 12], [40, 0]], 11) == set()


def test_the_threshold_can_only_be_raised() -> None:
    with pytest.raises(ValueError):
        suppress([[5]], 10)
    with pytest.raises(ValueError, match=r"suppression_thresholds\.cfd"):
        TrackingSettings(suppression_thresholds={"cfd": 5})
    s = TrackingSettings(suppression_thresholds={"cfd": 20})
    assert (s.threshold("cfd"), s.threshold("other"), s.threshold(None)) == (20, 11, 20)


def test_rates_use_only_published_values() -> None:
    columns = ["none", "eap", "clinician", "chaplain"]
    clear = publish(
        "contacts", "referral", "week", ["w1", "w2"], columns, [[30, 12, 0, 0], [40, 30, 20, 20]], 11
    )
    assert clear.rates["referral_rate"] == [round(12 / 42, 4), round(70 / 110, 4)]
    cells = [[30, 12, 0, 0], [5, 30, 20, 20]]
    hidden = publish("contacts", "referral", "week", ["w1", "w2"], columns, cells, 11)
    for i, rate in enumerate(hidden.rates["referral_rate"]):
        none, total = hidden.cells[i][0], hidden.row_totals[i]
        if none is None or total is None:
            assert rate is None
        else:
            assert rate == round(1 - none / total, 4)
    assert hidden.rates["referral_rate"][1] is None
