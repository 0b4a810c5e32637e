"""Synthetic daily stock data in Qlib's binary format, for tests that run real Qlib workflows.

The layout is the one written by Qlib's ``scripts/dump_bin.py`` (``dump_all``)::

    <root>/calendars/day.txt                 one YYYY-MM-DD per line (business days)
    <root>/instruments/all.txt               CODE<TAB>START<TAB>END, codes upper-case
    <root>/instruments/csi300.txt            same stocks (the market used by Alpha158 configs)
    <root>/features/<code lower>/<field>.day.bin

Each ``.bin`` is little-endian float32: the first value is the index of the
series' first day in the calendar, then one value per calendar day up to the
last day.  Fields: open, close, high, low, volume, vwap, factor, change.
``change`` is ``close / prev_close - 1`` with NaN on a series' first day, as
Qlib's Yahoo collector produces it (dump_bin stores the CSV value as is).

Prices follow a geometric random walk (a market factor plus idiosyncratic
noise) with a learnable component: each stock's daily idiosyncratic return is
partly explained by its own return over the previous 5 days (momentum), so a
model trained on Alpha158 features reaches a clearly positive IC.

The benchmark (default ``SH000300``) is written under ``features/`` as the
equal-weight index of the stocks; it is not listed in any market file, which is
all Qlib's backtest needs (``benchmark=`` is read with ``D.features``).

Only numpy, pandas and the standard library are used; Qlib is not imported.
Usage: ``python qlib_data.py TARGET_DIR`` writes the default dataset to TARGET_DIR.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pandas as pd

FIELDS = ("open", "close", "high", "low", "volume", "vwap", "factor", "change")
START_DATE = "2020-01-02"
MOMENTUM_WINDOW = 5
MOMENTUM_COEF = 0.08  # per lag; sum 0.4 over the window keeps the AR process stationary


def _write_bin(path: pathlib.Path, start_index: int, values: np.ndarray) -> None:
    data = np.hstack([[float(start_index)], np.asarray(values, dtype=np.float64)])
    data.astype("<f4").tofile(str(path))


def _simulate_returns(rng: np.random.Generator, n_stocks: int, n_days: int) -> np.ndarray:
    """Daily close-to-close returns, shape (n_days, n_stocks)."""
    market = rng.normal(0.0003, 0.010, size=n_days)
    noise = rng.normal(0.0, 0.015, size=(n_days, n_stocks))
    idio = np.zeros((n_days, n_stocks))
    for t in range(n_days):
        lo = max(0, t - MOMENTUM_WINDOW)
        idio[t] = MOMENTUM_COEF * idio[lo:t].sum(axis=0) + noise[t]
    # stay inside the +-10% daily limit of the cn exchange
    return np.clip(market[:, None] + idio, -0.095, 0.095)


def make_qlib_data(
    root, n_stocks: int = 30, n_days: int = 500, seed: int = 0, benchmark: str = "SH000300"
) -> pathlib.Path:
    """Write a synthetic Qlib day-frequency dataset under ``root`` and return ``root`` as a Path.

    Stocks are SH600000, SH600001, ...; every tenth stock (index 9, 19, ...)
    is listed only from day ``n_days // 10`` so that non-zero start indices are
    exercised.  The same seed always gives byte-identical files.
    """
    if n_stocks < 1 or n_days < 2 * MOMENTUM_WINDOW:
        raise ValueError("need n_stocks >= 1 and n_days >= 10")
    root = pathlib.Path(root)
    rng = np.random.default_rng(seed)
    calendar = pd.bdate_range(START_DATE, periods=n_days)
    cal_str = [d.strftime("%Y-%m-%d") for d in calendar]

    codes = [f"SH{600000 + i:06d}" for i in range(n_stocks)]
    starts = [n_days // 10 if i % 10 == 9 else 0 for i in range(n_stocks)]

    rets = _simulate_returns(rng, n_stocks, n_days)
    init_price = rng.uniform(5.0, 50.0, size=n_stocks)
    close = init_price * np.cumprod(1.0 + rets, axis=0)
    gap = rng.normal(0.0, 0.004, size=(n_days, n_stocks))
    prev_close = np.vstack([init_price, close[:-1]])
    open_ = prev_close * (1.0 + gap)
    wick_hi = np.abs(rng.normal(0.0, 0.006, size=(n_days, n_stocks)))
    wick_lo = np.abs(rng.normal(0.0, 0.006, size=(n_days, n_stocks)))
    high = np.maximum(open_, close) * (1.0 + wick_hi)
    low = np.minimum(open_, close) * (1.0 - wick_lo)
    vwap = (open_ + high + low + close) / 4.0
    base_volume = rng.uniform(1e6, 2e7, size=n_stocks)
    log_noise = rng.normal(0.0, 0.3, size=(n_days, n_stocks))
    volume = base_volume * np.exp(log_noise + 20.0 * np.abs(rets))  # busier on big moves

    (root / "calendars").mkdir(parents=True, exist_ok=True)
    (root / "instruments").mkdir(parents=True, exist_ok=True)
    (root / "calendars" / "day.txt").write_text("".join(d + "\n" for d in cal_str))
    lines = "".join(f"{c}\t{cal_str[s]}\t{cal_str[-1]}\n" for c, s in zip(codes, starts))
    for market in ("all", "csi300"):
        (root / "instruments" / f"{market}.txt").write_text(lines)

    def dump(code: str, start: int, cols: dict) -> None:
        fdir = root / "features" / code.lower()
        fdir.mkdir(parents=True, exist_ok=True)
        for field in FIELDS:
            _write_bin(fdir / f"{field}.day.bin", start, cols[field][start:])

    for j, (code, start) in enumerate(zip(codes, starts)):
        c = close[:, j]
        change = np.full(n_days, np.nan)
        change[start + 1 :] = c[start + 1 :] / c[start:-1] - 1.0
        dump(
            code,
            start,
            {
                "open": open_[:, j],
                "close": c,
                "high": high[:, j],
                "low": low[:, j],
                "volume": volume[:, j],
                "vwap": vwap[:, j],
                "factor": np.ones(n_days),
                "change": change,
            },
        )

    # benchmark: equal-weight index of the stocks listed on each day
    listed = np.arange(n_days)[:, None] >= np.asarray(starts)[None, :]
    bench_ret = np.where(listed, rets, np.nan)
    bench_ret = np.nanmean(bench_ret, axis=1)
    bench_ret[0] = 0.0
    b_close = 1000.0 * np.cumprod(1.0 + bench_ret)
    b_prev = np.concatenate([[1000.0], b_close[:-1]])
    b_change = np.concatenate([[np.nan], b_close[1:] / b_close[:-1] - 1.0])
    dump(
        benchmark,
        0,
        {
            "open": b_prev,
            "close": b_close,
            "high": np.maximum(b_prev, b_close),
            "low": np.minimum(b_prev, b_close),
            "volume": listed.sum(axis=1) * 1e8,
            "vwap": (b_prev + b_close) / 2.0,
            "factor": np.ones(n_days),
            "change": b_change,
        },
    )
    return root


def qlib_init_kwargs(root) -> dict:
    """Keyword arguments for ``qlib.init`` reading the dataset at ``root`` (no exp_manager)."""
    return {"provider_uri": str(pathlib.Path(root).resolve()), "region": "cn"}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} TARGET_DIR")
    print(make_qlib_data(sys.argv[1]))
