import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hf_interaction.errors import UsageError
from hf_interaction.shape.interval import DEFAULT_INTERVAL, Interval, parse_interval, resolve_interval


def test_default_interval_has_provenance():
    assert (DEFAULT_INTERVAL.lo, DEFAULT_INTERVAL.hi) == (0.0204, 0.0645)
    assert "2605.27989" in DEFAULT_INTERVAL.source
    assert DEFAULT_INTERVAL.centre == pytest.approx(math.sqrt(0.0204 * 0.0645))
    assert DEFAULT_INTERVAL.centre == pytest.approx(0.0363, abs=5e-4)


@pytest.mark.parametrize(
    "r, distance, inside",
    [
        (0.03, 0.0, True),
        (0.0204, 0.0, True),  # lower bound is inside
        (0.0645, 0.0, True),  # upper bound is inside
        (0.645, 1.0, False),  # a decade above
        (0.00204, -1.0, False),  # a decade below
    ],
)
def test_position(r, distance, inside):
    iv = DEFAULT_INTERVAL
    assert iv.distance(r) == pytest.approx(distance)
    assert iv.contains(r) is inside


def test_coordinate_at_bounds():
    iv = Interval(0.01, 0.1)
    assert iv.coordinate(0.01) == pytest.approx(0.0)
    assert iv.coordinate(0.1) == pytest.approx(1.0)
    assert iv.coordinate(math.sqrt(0.001)) == pytest.approx(0.5)
    assert iv.coordinate(1.0) == pytest.approx(2.0)


@given(st.floats(1e-5, 10.0), st.floats(1e-4, 1.0), st.floats(1.01, 100.0))
def test_distance_sign_and_coordinate_agree(r, lo, ratio):
    iv = Interval(lo, lo * ratio)
    d, c = iv.distance(r), iv.coordinate(r)
    if iv.contains(r):
        assert d == 0.0 and -1e-9 <= c <= 1 + 1e-9
    elif r > iv.hi:
        assert d > 0 and c > 1
    else:
        assert d < 0 and c < 0


def test_parse_interval():
    iv = parse_interval("0.02:0.05")
    assert (iv.lo, iv.hi) == (0.02, 0.05)
    assert "0.02:0.05" in iv.source
    assert parse_interval(None) is DEFAULT_INTERVAL


@pytest.mark.parametrize("text", ["0.05:0.02", "0.02:0.02", "-0.1:0.2", "0:0.2", "a:b", "0.02", "1:2:3",
                                  "nan:0.1", "0.1:inf"])
def test_parse_interval_rejects(text):
    with pytest.raises(UsageError):
        parse_interval(text)


def test_interval_file(tmp_path):
    p = tmp_path / "iv.json"
    p.write_text('{"lo": 0.01, "hi": 0.03, "source": "my sweep"}')
    iv = resolve_interval(None, str(p))
    assert (iv.lo, iv.hi, iv.source) == (0.01, 0.03, "my sweep")
    with pytest.raises(UsageError):
        resolve_interval("0.01:0.02", str(p))
