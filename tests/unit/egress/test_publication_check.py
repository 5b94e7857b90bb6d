import pandas as pd

from egress_review.checks.publication import check_publication

SECRET = b"test-cell-key-secret"


def _aged_100() -> pd.DataFrame:
    return pd.DataFrame({"count": [3, 40]}, index=["Nordre Aker / Grefsen", "Nordre Aker / Kjelsås"])


def test_grefsen_aged_100_cell_is_protected():
    rep = check_publication(_aged_100(), secret=SECRET, table_id="aged100", threshold=10, published={})
    assert ("Nordre Aker / Grefsen", "count") in rep.suppressed
    assert pd.isna(rep.table.at["Nordre Aker / Grefsen", "count"])


def test_same_cell_same_noise_across_publications():
    big = pd.DataFrame({"count": list(range(100, 140))}, index=[f"d{i}" for i in range(40)])
    a = check_publication(big, secret=SECRET, table_id="t", threshold=10, published={})
    b = check_publication(big, secret=SECRET, table_id="t", threshold=10, published={})
    assert a.table["count"].tolist() == b.table["count"].tolist()
    assert a.table["count"].tolist() != big["count"].tolist()  # perturbed at all
    c = check_publication(big, secret=b"other", table_id="t", threshold=10, published={})
    assert c.table["count"].tolist() != a.table["count"].tolist()  # noise depends on the secret


def test_differencing_against_published_table_is_caught():
    published = {"age 18-66": pd.DataFrame({"count": [120]}, index=["18-66"])}
    new = pd.DataFrame({"count": [123]}, index=["18-67"])
    rep = check_publication(new, secret=SECRET, table_id="n", threshold=10, published=published)
    assert rep.differences and not rep.publishable
    clean = check_publication(new, secret=SECRET, table_id="n", threshold=10, published={})
    assert clean.publishable


def test_cell_key_secret_is_stable_and_bound_to_the_master_key():
    from egress_review.publication import cell_key_secret
    assert cell_key_secret(b"m" * 32) == cell_key_secret(b"m" * 32)
    assert cell_key_secret(b"m" * 32) != cell_key_secret(b"n" * 32)
    assert cell_key_secret(b"m" * 32) != b"m" * 32
