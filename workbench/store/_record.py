"""A run as the rows the store writes: totals, summary, the encoded results and their checksum."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from ..run import Run, summarize
from ..secrets import env_secrets, redact_frame
from . import _schema
from ._codec import checksum, encode_results
from ._time import utc_iso

__all__ = ["Record", "insert"]

_PART = 256 * 2**20
"""Results blobs are split in parts of this size, well below SQLite's 1 GB value limit."""


@dataclass
class Record:
    """A run as the rows to write, prepared before the write lock is taken."""

    values: dict[str, Any]
    blob: bytes
    summary: list[tuple[Any, ...]]

    @classmethod
    def of(cls, run: Run, label: str | None) -> Record:
        from .._version import __version__

        results = r = redact_frame(run.results, env_secrets().values())
        summary = summarize(r) if len(r) else pd.DataFrame(columns=_schema.SUMMARY)
        judged = bool((summary["kind"] == "judge").any())
        free = 0.0 if not judged else None  # no judge: nothing spent; else missing when the price is unknown
        tokens = r["tokens"].sum() if judged else 0
        values = {
            "label": label,
            "suite": run.suite.name,
            "version": run.suite.version,
            "suite_fingerprint": run.suite.fingerprint(),
            "suite_yaml": run.suite.to_yaml(),
            "data_fingerprint": run.data_fingerprint,
            "model": run.model,
            "params": json.dumps(run.params, default=lambda o: f"<{type(o).__name__}>"),
            "calls_json": json.dumps(run.calls, default=float),
            "started_at": utc_iso(run.started_at),
            "duration_s": float(run.duration_s),
            "rows": int(r["row"].nunique(dropna=False)) if len(r) else 0,
            "cells": len(r),
            "calls": int(run.calls.get("calls", 0)),
            "cache_hits": int(run.calls.get("cache_hits", 0)),
            "errors": int(summary["errors"].sum()),
            "tokens": None if pd.isna(tokens) else int(tokens),
            "cost_usd": _float(run.calls.get("cost_usd", free)),
            "saved_usd": _float(run.calls.get("saved_usd", free)),
            "passed": int(summary["passed"].sum()),
            "failed": int(summary["failed"].sum()),
            "saved_at": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            "workbench_version": __version__,
        }
        rows = [tuple(_plain(x) for x in rec) for rec in summary[_schema.SUMMARY].itertuples(index=False)]
        blob = encode_results(results)
        values["checksum"] = checksum(blob, [values[c] for c in _schema.CHECKED])
        return cls(values=values, blob=blob, summary=rows)


def insert(con: sqlite3.Connection, run_id: str, record: Record) -> None:
    values = {"id": run_id, **record.values}
    con.execute(
        f"INSERT INTO runs ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
        tuple(values.values()),
    )
    blob = memoryview(record.blob)
    for part, start in enumerate(range(0, max(len(blob), 1), _PART)):
        con.execute(
            "INSERT INTO results (run_id, part, data) VALUES (?, ?, ?)",
            (run_id, part, blob[start : start + _PART]),
        )
    con.executemany(
        f"INSERT INTO summaries (run_id, position, {', '.join(_schema.SUMMARY)}) "
        f"VALUES (?, ?, {', '.join('?' * len(_schema.SUMMARY))})",
        [(run_id, i, *rec) for i, rec in enumerate(record.summary)],
    )


def _float(x: Any) -> float | None:
    return None if x is None or pd.isna(x) else float(x)


def _plain(x: Any) -> Any:
    if x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x)):
        return None
    return x.item() if isinstance(x, np.generic) else x
