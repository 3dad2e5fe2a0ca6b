"""How numbers are written for people: estimates with their interval and n, money with its
currency."""

from core.app.formatting import estimate, money, with_ci


def test_an_estimate_carries_its_interval_and_n():
    assert with_ci(0.5, 0.2, 0.8, 10) == "0.50 [0.20–0.80] (n=10)"
    assert with_ci(0.5, float("nan"), None, 3, "{:.0%}") == "50% (n=3)"
    assert with_ci(None, 0, 1, 0) == "–"
    row = {"acc": 0.25, "acc_low": 0.0, "acc_high": 0.5, "acc_n": 4}
    assert estimate(row, "acc", "{:.0%}") == "25% [0%–50%] (n=4)"


def test_money_always_shows_its_currency():
    assert money(1234.5, "USD") == "$1,234.50"
    assert money(0.00314, "EUR", 4) == "€0.0031"
    assert money(-2, "GBP") == "-£2.00"
    assert money(12, "CHF") == "12.00 CHF"
    assert money(float("nan"), "USD") == "–"
