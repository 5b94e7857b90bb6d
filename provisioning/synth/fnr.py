"""Norwegian national identity numbers (fødselsnummer): DDMMYY, a three-digit individual number whose
range gives the century and whose last digit the legal gender (even: female), and two mod-11 check
digits. Numbers whose check digit would be 10 do not exist and are redrawn."""

from __future__ import annotations

import numpy as np

W1 = np.array([3, 7, 6, 1, 8, 9, 4, 5, 2])
W2 = np.array([5, 4, 3, 2, 7, 6, 5, 4, 3, 2])


def check_digits(first9: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both check digits for rows of 9 digits; -1 where a check digit would be 10 (invalid number)."""
    k1 = (11 - (first9 @ W1) % 11) % 11
    k2 = (11 - (np.column_stack([first9, k1]) @ W2) % 11) % 11
    bad = (k1 == 10) | (k2 == 10)
    return np.where(bad, -1, k1), np.where(bad, -1, k2)


def is_valid(fnr: str) -> bool:
    if len(fnr) != 11 or not fnr.isdigit():
        return False
    digits = np.array([int(c) for c in fnr])
    k1, k2 = check_digits(digits[None, :9])
    return bool(k1[0] == digits[9] and k2[0] == digits[10])


def generate(birth: np.ndarray, female: np.ndarray, rng: np.random.Generator, max_rounds: int = 200) -> np.ndarray:
    """Unique valid numbers for birth dates (datetime64[D]) and genders; vectorised, redrawing only the
    rows whose number is invalid or already taken."""
    n = len(birth)
    years = birth.astype("datetime64[Y]").astype(int) + 1970
    months = birth.astype("datetime64[M]").astype(int) % 12 + 1
    days = (birth - birth.astype("datetime64[M]")).astype(int) + 1
    low = np.where(years >= 2000, 500, 0)  # individual numbers 500-999 mean born 2000-2039
    date_part = days * 10000 + months * 100 + years % 100
    out = np.zeros(n, dtype=np.int64)
    todo = np.arange(n)
    for _ in range(max_rounds):
        if todo.size == 0:
            break
        individual = low[todo] + rng.integers(0, 250, todo.size) * 2 + np.where(female[todo], 0, 1)
        first9 = date_part[todo] * 1000 + individual
        digits = (first9[:, None] // 10 ** np.arange(8, -1, -1)) % 10
        k1, k2 = check_digits(digits)
        candidate = first9 * 100 + k1 * 10 + k2
        ok = k1 >= 0
        out[todo[ok]] = candidate[ok]
        # Keep the first holder of a number; everyone else with the same number draws again.
        assigned = np.flatnonzero(out > 0)
        order = assigned[np.argsort(out[assigned], kind="stable")]
        repeat = np.zeros(order.size, dtype=bool)
        repeat[1:] = out[order[1:]] == out[order[:-1]]
        out[order[repeat]] = 0
        todo = np.flatnonzero(out == 0)
    if todo.size:
        raise ValueError(
            f"could not draw unique national identity numbers for {todo.size} people: only about 170 valid "
            "numbers exist per birth date and gender; use fewer employees and more years of episodes"
        )
    return np.char.zfill(out.astype(str), 11)
