"""The panel's controller: the versions of a suite, what ran under each, and the arguments of
every public call the panel makes, with no widget in it.

The four tabs take a :class:`PanelController` (never the panel), read its state, call its
methods, and redraw when it tells them something changed (:meth:`PanelController.subscribe`).
Every behaviour that is not drawing lives here, so it is testable without ipywidgets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from ..config import JudgeConfig
from ..errors import WorkbenchError, cap_list, shorten
from ..frame import estimate, evaluate, evaluate_async
from ..inputs import check_index, load_suite
from ..prompts import render_messages
from ..run import Run
from ..secrets import known_secrets, redact
from ..specs import Suite
from ._common import Version, merge_results, next_label

if TYPE_CHECKING:
    from ..compare import Comparison

RUN_OPTIONS = frozenset({"save", "store", "strict", "columns", "label"})
"""evaluate() arguments that are about the run, not the judge calls (the rest build the
panel's JudgeConfig)."""
PANEL_OWNED = frozenset({"rows", "progress", "batch", "wait", "retry_failed"})
"""evaluate() arguments the panel sets itself."""
BATCH_ABOVE = 1000
"""By default the Run tab offers batch mode for runs of more new judge calls than this."""


@dataclass(frozen=True)
class BatchOffer:
    """Batch mode for a run the Run tab is about to make: its new calls and both prices."""

    new_calls: int
    direct_usd: float | None
    """The estimated price of the new calls made directly (None: the model is unpriced)."""
    batch_usd: float | None
    """The same calls at the provider's batch price."""


Subset = Literal["all", "failing", "errored", "changed", "sample", "query", "picked"]
"""The row subsets the controller computes (see :meth:`PanelController.rows`)."""


@dataclass(frozen=True)
class PanelEvent:
    """What changed, as the controller tells its subscribers."""

    kind: Literal["selected", "recorded"]
    """``selected``: another version is current (or a new one was added); ``recorded``: a run
    of ``version`` finished and its cells were kept."""
    version: Version


class PanelController:
    """The state of a :class:`~workbench.Workbench` and the public calls it makes, without widgets.

    Args:
        df: the rows to evaluate (never modified).
        suite: a :class:`~workbench.Suite` (or a YAML/JSON path); its version is the first one.
        model: the judge model, a litellm model string.
        judge: how judge calls are made (:class:`~workbench.JudgeConfig`); ``model=`` and the
            judge keywords of ``**options`` build one, as :func:`~workbench.evaluate` does.
        batch_above: the Run tab offers batch mode for runs of more new judge calls than this
            (default :data:`BATCH_ABOVE`), when batch mode covers the judge model's provider.
        **options: the run arguments of :func:`~workbench.evaluate` (``columns``, ``store``,
            ``save``, ``strict``, ``label``) and its judge keywords.

    Raises:
        WorkbenchError: ``df`` is not a DataFrame, or ``rows=``/``progress=`` was given.
        ColumnsError: ``df``'s index repeats a label (results are keyed by it).
        ConfigError: an unknown or invalid judge option.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> from workbench.widgets import PanelController
        >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="short", path="a",
        ...                  op="has_length_less_than", expected=5)])
        >>> ctl = PanelController(pd.DataFrame({"a": ["ok", "far too long"]}), suite, save=False)
        >>> run = ctl.evaluate(ctl.rows("all"))
        >>> ctl.record(ctl.current, run)
        >>> ctl.rows("failing"), ctl.current.label
        ([1], '1')
    """

    def __init__(
        self,
        df: pd.DataFrame,
        suite: Suite | str | Path,
        model: str | None = None,
        *,
        judge: JudgeConfig | None = None,
        batch_above: int = BATCH_ABOVE,
        **options: Any,
    ) -> None:
        if not isinstance(df, pd.DataFrame):
            raise WorkbenchError(f"Workbench needs a pandas DataFrame, got {type(df).__name__}")
        owned = sorted(PANEL_OWNED & set(options))
        if owned:
            raise WorkbenchError(
                f"Workbench chooses {owned} itself (the Run tab picks the rows and draws the progress); "
                f"remove {', '.join(f'{k}=' for k in owned)} from the call"
            )
        check_index(df)
        first = load_suite(suite)
        self.df = df
        self.run_options: Mapping[str, Any] = {k: v for k, v in options.items() if k in RUN_OPTIONS}
        """The run arguments of :func:`~workbench.evaluate` given to the panel."""
        self.judge = JudgeConfig.build(
            judge, model=model, **{k: v for k, v in options.items() if k not in RUN_OPTIONS}
        )
        self.versions: list[Version] = [Version(label=first.version, suite=first)]
        self._current = first.version
        self._secrets = known_secrets(self.judge.connection)
        self._listeners: list[Callable[[PanelEvent], None]] = []
        self.batch_above = int(batch_above)
        """Runs of more new judge calls than this are offered batch mode."""
        self.pending: list[tuple[Version, list[Any], Run]] = []
        """Batch-mode runs submitted from the panel whose cells still wait: (version, rows, run)."""

    # --- state ---------------------------------------------------------------------------------

    @property
    def model(self) -> str | None:
        """The judge model (``None`` for a suite of assertions only)."""
        return self.judge.model

    @property
    def store(self) -> Any:
        """The run store given as ``store=`` (``None``: the default store)."""
        return self.run_options.get("store")

    @property
    def current(self) -> Version:
        """The version the editor shows and the runner runs."""
        found = self.version(self._current)
        assert found is not None  # _current only ever names a version of the list
        return found

    def version(self, label: str) -> Version | None:
        """The version labelled ``label``, if any."""
        return next((v for v in self.versions if v.label == label), None)

    def parent(self, version: Version | None = None) -> Version | None:
        """The version ``version`` (default: the current one) was edited from, if any."""
        version = version or self.current
        return self.version(version.parent) if version.parent else None

    def subscribe(self, listener: Callable[[PanelEvent], None]) -> None:
        """Call ``listener`` with a :class:`PanelEvent` after each change, in subscription order."""
        self._listeners.append(listener)

    def _tell(self, event: PanelEvent) -> None:
        for listener in self._listeners:
            listener(event)

    def select(self, label: str) -> None:
        """Make version ``label`` the current one.

        Raises:
            WorkbenchError: no such version; the message lists them.
        """
        version = self.version(label)
        if version is None:
            raise WorkbenchError(
                f"no version {label!r}; versions are {cap_list([v.label for v in self.versions])}"
            )
        self._current = label
        self._tell(PanelEvent("selected", version))

    def add_version(self, suite: Suite) -> Version:
        """Add ``suite`` as a new version edited from the current one, labelled ``v<n>``, and select it."""
        label = next_label([v.label for v in self.versions])
        version = Version(
            label=label, suite=suite.model_copy(update={"version": label}), parent=self._current
        )
        self.versions.append(version)
        self.select(label)
        return version

    def known_results(self, version: Version | None = None) -> pd.DataFrame | None:
        """The latest cells of every row: the version's own, and for rows it has not run,
        those of the version it was edited from (and so on). ``None`` when nothing ran."""
        frames: list[pd.DataFrame] = []
        seen: set[Any] = set()
        v: Version | None = version or self.current
        while v is not None:
            if v.results is not None:
                part = v.results[~v.results["row"].isin(seen)]
                frames.append(
                    part.astype({"task": object, "criterion": object, "status": object, "kind": object})
                )
                seen |= set(part["row"].tolist())
            v = self.parent(v)
        return pd.concat(frames, ignore_index=True) if frames else None

    def record(self, version: Version, run: Run) -> None:
        """Keep ``run``'s cells as ``version``'s latest for its rows, and tell the subscribers."""
        version.results = merge_results(version.results, run.results, self.df.index)
        version.runs.append(run)
        self._tell(PanelEvent("recorded", version))

    # --- rows ----------------------------------------------------------------------------------

    def rows(
        self,
        subset: Subset,
        *,
        n: int = 20,
        seed: int = 0,
        query: str = "",
        picked: Iterable[Any] = (),
    ) -> list[Any]:
        """Index labels of the rows in ``subset``, in the DataFrame's order.

        ``failing`` and ``errored`` read the current version's results, and for rows not run
        under it yet, those of the version it was edited from; ``changed`` holds the rows
        with a judge call the cache does not hold; ``sample`` draws ``n`` rows with ``seed``;
        ``query`` is a :meth:`pandas.DataFrame.query` string; ``picked`` are the labels given.

        Raises:
            WorkbenchError: the subset cannot be computed (no results yet, a bad query...).
        """
        df = self.df
        if subset == "all":
            return list(df.index)
        if subset in ("failing", "errored"):
            known = self.known_results()
            if known is None:
                raise WorkbenchError(
                    f"no results yet to find {subset} rows in: run all rows (or a sample) first"
                )
            status = "failed" if subset == "failing" else "error"
            hit = set(known.loc[known["status"] == status, "row"].tolist())
            return [r for r in df.index if r in hit]
        if subset == "changed":
            by_row = estimate(df, self.current.suite, by_row=True, **self.estimate_kwargs())
            return list(by_row.index[by_row.sum(axis=1) > 0]) if by_row.shape[1] else []
        if subset == "sample":
            size = min(int(n), len(df))
            chosen = set(df.sample(n=size, random_state=int(seed)).index)
            return [r for r in df.index if r in chosen]
        if subset == "query":
            return list(_query(df, query).index)
        if subset == "picked":
            wanted = set(picked)
            return [r for r in df.index if r in wanted]
        raise WorkbenchError(f"no subset {subset!r}; subsets are {cap_list(list(SUBSET_NAMES))}")

    # --- the public calls ----------------------------------------------------------------------

    def estimate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`workbench.estimate`."""
        return {"judge": self.judge, "columns": self.run_options.get("columns")}

    def run_kwargs(self, version: Version) -> dict[str, Any]:
        """Keyword arguments for :func:`workbench.evaluate` (rows and progress excepted)."""
        return {"judge": self.judge, "label": f"{version.suite.name} {version.label}", **self.run_options}

    def estimate(self, rows: list[Any]) -> pd.DataFrame:
        """:func:`workbench.estimate` of the current version on ``rows``."""
        return estimate(self.df, self.current.suite, rows=rows, **self.estimate_kwargs())

    def evaluate(self, rows: list[Any], progress: Any = False, version: Version | None = None) -> Run:
        """:func:`workbench.evaluate` of ``version`` (default: the current one) on ``rows``;
        the run is returned, not recorded (see :meth:`record`)."""
        version = version or self.current
        return evaluate(self.df, version.suite, rows=rows, progress=progress, **self.run_kwargs(version))

    async def evaluate_async(
        self, rows: list[Any], progress: Any = False, version: Version | None = None
    ) -> Run:
        """:func:`workbench.evaluate_async`, as :meth:`evaluate`."""
        version = version or self.current
        return await evaluate_async(
            self.df, version.suite, rows=rows, progress=progress, **self.run_kwargs(version)
        )

    # --- batch mode ----------------------------------------------------------------------------

    def batch_offer(self, est: pd.DataFrame) -> BatchOffer | None:
        """Batch mode for the run ``est`` (an :meth:`estimate`) describes: offered when it has
        more new calls than :attr:`batch_above` and batch mode covers the judge models."""
        from ..batch import add_batch_prices, check_models
        from ..errors import ConfigError

        total = est.iloc[-1]
        new = int(total["new"]) - int(total["unrenderable"])
        if new <= self.batch_above:
            return None
        try:
            check_models(self.current.suite, self.judge)
        except ConfigError:
            return None
        priced = add_batch_prices(est).iloc[-1]
        direct, batch = priced["cost_usd_est"], priced["cost_usd_batch_est"]
        return BatchOffer(
            new_calls=new,
            direct_usd=None if pd.isna(direct) else float(direct),
            batch_usd=None if pd.isna(batch) else float(batch),
        )

    async def submit_batch(self, rows: list[Any], version: Version | None = None) -> Run:
        """Run ``version`` on ``rows`` in batch mode without waiting: the uncached calls are
        submitted as provider batches and the pending run is kept in :attr:`pending` (a run
        whose every call was cached, or that finished at once, is returned to be recorded)."""
        version = version or self.current
        run = await evaluate_async(
            self.df,
            version.suite,
            rows=rows,
            progress=False,
            batch=True,
            wait=False,
            **self.run_kwargs(version),
        )
        if getattr(run, "waiting", 0):
            self.pending.append((version, list(rows), run))
        return run

    async def collect(self) -> list[tuple[Version, Run]]:
        """Poll every pending batch-mode run once (the same evaluate again, not waiting): the
        runs that finished are recorded under their version, removed from :attr:`pending`
        and returned; nothing is submitted twice."""
        done: list[tuple[Version, Run]] = []
        still: list[tuple[Version, list[Any], Run]] = []
        for version, rows, _ in self.pending:
            run = await evaluate_async(
                self.df,
                version.suite,
                rows=rows,
                progress=False,
                batch=True,
                wait=False,
                **self.run_kwargs(version),
            )
            if getattr(run, "waiting", 0):
                still.append((version, rows, run))
            else:
                done.append((version, run))
        self.pending = still
        for version, run in done:
            self.record(version, run)
        return done

    def pending_batches(self) -> pd.DataFrame:
        """The provider batches of the panel's store that have not finished, newest first."""
        from ..batch import batches

        return batches(self.store, open_only=True)

    def messages(
        self, suite: Suite, task_id: str, row: Any, criterion: str | None = None
    ) -> list[dict[str, str]]:
        """:func:`workbench.prompts.render_messages` with the panel's columns and judge."""
        return render_messages(
            self.df,
            suite,
            task_id,
            row,
            criterion,
            judge=self.judge,
            columns=self.run_options.get("columns"),
        )

    def redact(self, text: str) -> str:
        """``text`` with every secret the panel knows (options, credential-like environment
        variables) replaced by ``[redacted]``."""
        return redact(text, self._secrets)

    # --- saved runs ----------------------------------------------------------------------------

    def saved_runs(self) -> pd.DataFrame:
        """:func:`workbench.runs` of the panel's store, newest first."""
        from ..store import runs

        return runs(store=self.store)

    def run_choices(self, table: pd.DataFrame | None = None) -> tuple[list[tuple[str, str]], str | None]:
        """The saved runs as ``(text, id)`` options, newest first, and the id to preselect:
        the newest run that is not one of the current version's own.

        Texts are short: the label, the suite version when the label does not already end
        with it, and the start time to the minute (local time). Where two texts would be the
        same (a subset and then every row, in one minute), the time has its seconds, and
        where even those are the same, the run's id follows.
        """
        table = self.saved_runs() if table is None else table
        if not len(table):
            return [], None
        records = table.to_dict("records")
        texts = [_run_text(r) for r in records]
        texts = [
            _run_text(r, "%Y-%m-%d %H:%M:%S") if texts.count(t) > 1 else t
            for r, t in zip(records, texts, strict=True)
        ]
        ids = [str(i) for i in table["id"]]
        options = [(f"{t} · {i}" if texts.count(t) > 1 else t, i) for t, i in zip(texts, ids, strict=True)]
        own = {r.id for r in self.current.runs if r.id}
        newest_other = next((i for i in ids if i not in own), None)
        return options, newest_other

    def compare(self, ref: str) -> Comparison:
        """:func:`workbench.compare` of saved run ``ref`` (A) with the current version (B).

        Raises:
            WorkbenchError: the current version has no results yet, or the comparison failed.
        """
        from ..compare import compare

        cur = self.current
        mine = cur.run(self.model)
        if mine is None:
            raise WorkbenchError(f"{cur.label} has no results yet: run some rows first")
        return compare(ref, mine, store=self.store)

    def __repr__(self) -> str:
        return (
            f"PanelController(suite={self.current.suite.name!r}, version={self._current!r}, "
            f"versions={[v.label for v in self.versions]}, rows={len(self.df)})"
        )


SUBSET_NAMES: tuple[Subset, ...] = ("all", "failing", "errored", "changed", "sample", "query", "picked")


def _run_text(run: Mapping[Any, Any], clock: str = "%Y-%m-%d %H:%M") -> str:
    """``label · version · YYYY-MM-DD HH:MM`` for one row of :func:`workbench.runs`."""
    label = "" if pd.isna(run.get("label")) else str(run.get("label") or "")
    version = "" if pd.isna(run.get("version")) else str(run.get("version") or "")
    parts = [label or str(run.get("suite") or run["id"])]
    if version and parts[0].split()[-1:] != [version]:
        parts.append(version)
    when = run.get("started_at")
    if isinstance(when, dt.datetime) and not pd.isna(when):
        if isinstance(when, pd.Timestamp):
            when = when.to_pydatetime()
        parts.append(when.astimezone().strftime(clock))  # the reader's clock, not UTC
    return " · ".join(parts)


def _query(df: pd.DataFrame, text: str) -> pd.DataFrame:
    """``df.query(text)``, with a message that says what went wrong and what exists."""
    if not text.strip():
        raise WorkbenchError("write a pandas query first, e.g. `lang == 'en' and score < 3`")
    try:
        out = df.query(text)
    except Exception as e:  # noqa: BLE001  (pandas raises many kinds: SyntaxError, KeyError, TypeError...)
        raise WorkbenchError(
            f"query {shorten(text, 200)!r} failed: {describe(e)}. Columns: "
            f"{cap_list([str(c) for c in df.columns], 20)}. Write a pandas DataFrame.query expression, "
            "e.g. `lang == 'en' and score < 3`; quote names with spaces in backticks."
        ) from None
    if not isinstance(out, pd.DataFrame):
        raise WorkbenchError(f"query {shorten(text, 200)!r} must select rows, e.g. `score < 3`")
    return out


def describe(e: BaseException) -> str:
    """An exception as one line for an inline message: a WorkbenchError's own text, else the
    type and the (shortened) message."""
    if isinstance(e, WorkbenchError):
        return str(e)
    text = str(e).strip() or "no message"
    return f"{type(e).__name__}: {shorten(text, 600)}"
