import hashlib
import hmac
import os

import pandas as pd
import pyarrow as pa
import pytest

from provisioning.pseudonymise import pseudonym, pseudonymise_arrow, pseudonymise_series

pytestmark = pytest.mark.unit


def test_equals_standard_hmac_sha256_truncated():
    key = os.urandom(32)
    values = pd.Series(["01010012345", "31129912345", "Ola Nordmann", "æøå"])
    out = pseudonymise_series(values, key, hex_chars=16)
    expected = [hmac.new(key, v.encode(), hashlib.sha256).hexdigest()[:16] for v in values]
    assert out.tolist() == expected
    assert pseudonymise_series(values, key, hex_chars=64).tolist()[0] == hmac.new(key, values[0].encode(), "sha256").hexdigest()


def test_stable_for_the_same_key_and_different_for_another():
    a, b = os.urandom(32), os.urandom(32)
    values = pd.Series(["x", "y", "x", "z", "y"])
    first, again, other = (pseudonymise_series(values, k) for k in (a, a, b))
    assert first.tolist() == again.tolist()
    assert first[0] == first[2] and first[1] == first[4] and first[0] != first[1]
    assert set(first).isdisjoint(set(other))


def test_cannot_be_recomputed_without_the_key():
    key = os.urandom(32)
    value = "01018012345"
    p = pseudonym(value, key)
    guesses = {
        hashlib.sha256(value.encode()).hexdigest()[:16],
        hmac.new(b"", value.encode(), "sha256").hexdigest()[:16],
        hmac.new(b"\0" * 32, value.encode(), "sha256").hexdigest()[:16],
        pseudonym(value, os.urandom(32)),
    }
    assert p not in guesses


def test_nulls_stay_null_and_types_are_accepted():
    key = os.urandom(32)
    out = pseudonymise_series(pd.Series(["a", None, "a"]), key)
    assert out.isna().tolist() == [False, True, False]
    cat = pseudonymise_series(pd.Series(["a", "b", "a"], dtype="category"), key)
    assert cat.tolist() == pseudonymise_series(pd.Series(["a", "b", "a"]), key).tolist()
    ints = pseudonymise_arrow(pa.array([12345678901, None]), key)
    assert ints.to_pylist()[0] == pseudonym("12345678901", key) and ints.to_pylist()[1] is None


def test_rejects_odd_lengths():
    with pytest.raises(ValueError):
        pseudonymise_arrow(pa.array(["a"]), os.urandom(32), hex_chars=15)


@pytest.mark.parametrize(
    "values",
    [
        ["01018012345", "31129912345", None, "01018012345", "00000000001"],  # fixed-width digits (integer path)
        ["0123", "123", "00123"],  # digits of different lengths: leading zeros matter
        ["+1234567890", "01234567890"],  # a sign is not a digit
        ["١٢٣", "123"],  # non-ASCII digits
    ],
)
def test_every_path_gives_the_plain_hmac(values):
    key = os.urandom(32)
    out = pseudonymise_arrow(pa.array(values), key).to_pylist()
    assert out == [None if v is None else hmac.new(key, v.encode(), "sha256").hexdigest()[:16] for v in values]


def test_colliding_short_pseudonyms_still_come_out_right():
    key = os.urandom(32)
    values = pd.Series([f"person-{i}" for i in range(1000)])  # 1000 people, only 256 two-hex-digit pseudonyms
    out = pseudonymise_series(values, key, hex_chars=2)
    assert out.tolist() == [hmac.new(key, v.encode(), "sha256").hexdigest()[:2] for v in values]
