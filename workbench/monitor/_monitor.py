"""``wb.Monitor``: online evaluation of live traffic with the offline suites, engine and cache.

The application calls :meth:`Monitor.submit` (or wraps a function with :meth:`Monitor.watch`);
that samples the record by its id, encodes it and appends it to a bounded in-memory queue,
and returns. A writer thread persists the queue in group commits every few milliseconds;
workers (threads of this process, or ``workbench monitor serve`` processes) claim persisted
records under a lease, evaluate them and commit their cells.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import inspect
import itertools
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import orjson

from ..config import JudgeConfig
from ..errors import ConfigError, closest
from ..secrets import known_secrets
from ..specs import Suite
from ..store import RecordStore, Store
from ._options import MonitorOptions, Observer, build_observer, judge_config, split_options
from ._sampling import Sampler
from ._worker import Pool
from ._writer import Writer

__all__ = ["Monitor"]

log = logging.getLogger("workbench.monitor")

F = TypeVar("F", bound=Callable[..., Any])

_META = ("id", "time", "tags", "trace_id")
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
_UNWATCHED_PARAMS = ("self", "cls")


def _default(value: Any) -> Any:
    """orjson's fallback for what it does not encode itself: models, sets, times, the rest as text."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class Monitor:
    """Evaluate live traffic in the background: sample records by id, persist them, evaluate
    them with ``suite`` (the same engine, judges and cache as ``wb.evaluate``), store each
    record's cells, and read them back as a results frame.

    Args:
        suite: a :class:`~workbench.Suite` or the path of a YAML/JSON file holding one.
        model: the judge model for judge tasks (a litellm model string).
        judge: a whole :class:`~workbench.JudgeConfig`; ``model=`` and judge keywords build on it.
        sample_ratio: the share of records evaluated, chosen by a hash of the record id (a
            replay of the same ids samples the same records).
        sample: per-task rates overriding ``sample_ratio`` (``{"quality": 0.05}``); lower
            rates select subsets of higher ones, and a task's dependencies run wherever it
            does. Tasks a record was not sampled for have no cells for it.
        store: where records and results go: a folder, a ``.sqlite`` file or a
            :class:`~workbench.Store` (default: the run store in the workbench home).
        name: the monitor's name in the store (default: the suite's name).
        workers: evaluation loops in this process (in a background thread); ``0`` only
            persists, for ``workbench monitor serve`` processes to evaluate.
        alerts: alert rules (see ``workbench.monitor`` alerts), or any object with an
            ``observe(results)`` method, handed the cells of each committed batch.
        on_fail: called (by the alerts) for each record with a failed or errored cell.
        alert_to: where alerts go: a callable, ``"log"``, a webhook URL, or a list of them.
        options: a whole :class:`~workbench.monitor.MonitorOptions`.
        **keywords: :class:`~workbench.monitor.MonitorOptions` fields (``queue_size``,
            ``when_full``, ``max_retries``, ``lease_s``, ``batch_size``...), and the judge
            options ``evaluate`` takes (``concurrency``, ``api_base``, ``temperature``...).
            ``max_retries`` is the monitor's (records are retried); the judge's per-call
            retries are ``judge=wb.JudgeConfig(max_retries=...)``.

    Raises:
        ConfigError: an unknown option, a rate outside [0, 1], ``sample`` naming an unknown task.
        SpecError: the suite file cannot be read.
        WorkbenchError: workers would evaluate judge tasks that have no model.

    Example:
        >>> import tempfile, workbench as wb
        >>> tmp = tempfile.TemporaryDirectory()
        >>> suite = wb.Suite(name="answers", tasks=[wb.AssertionTask(id="not_empty", path="answer",
        ...                                                          op="is_not_empty")])
        >>> with wb.Monitor(suite, store=tmp.name) as monitor:
        ...     @monitor.watch(input="question", output="answer")
        ...     def answer(question):
        ...         return "" if "?" not in question else "Paris."
        ...     answer("Capital of France?"), answer("hello")
        ...     monitor.flush(timeout=30)
        ('Paris.', '')
        True
        >>> monitor.results()[["record", "status"]].to_dict("list")["status"]
        ['passed', 'failed']
        >>> {k: monitor.stats()[k] for k in ("submitted", "persisted", "evaluated")}
        {'submitted': 2, 'persisted': 2, 'evaluated': 2}
        >>> tmp.cleanup()
    """

    def __init__(
        self,
        suite: Suite | str | Path,
        *,
        model: str | None = None,
        judge: JudgeConfig | None = None,
        sample_ratio: float = 1.0,
        sample: Mapping[str, float] | None = None,
        store: Store | str | os.PathLike[str] | None = None,
        name: str | None = None,
        workers: int = 1,
        alerts: Sequence[Any] | Observer | None = None,
        on_fail: Callable[[Any], Any] | None = None,
        alert_to: Any = (),
        options: MonitorOptions | None = None,
        **keywords: Any,
    ) -> None:
        from ..inputs import load_suite, require_models

        self.suite = load_suite(suite)
        mine, judge_options = split_options(keywords)
        base = options.model_dump() if options is not None else {}
        self.options = MonitorOptions(**{**base, **mine})
        self.judge = judge_config(judge, model, judge_options)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise ConfigError(
                f"workers={workers!r} must be a whole number >= 0 (0: only persist, for "
                "`workbench monitor serve` to evaluate)"
            )
        if workers:
            require_models(self.suite, self.judge)
        self.sampler = Sampler(self.suite, sample_ratio, sample)
        self.name = name if name is not None else self.suite.name
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"name={name!r} must be a non-empty string (the monitor's name in the store)")
        self.store = Store(store)
        self.path: Path = self.store.path
        self.workers = workers
        self._observer = build_observer(
            alerts,
            on_fail,
            alert_to,
            self.options,
            self.path,
            self.name,
            workers,
            self.suite,
            known_secrets(self.judge.connection),
        )
        self._unsampled = 0
        self._prefix = secrets.token_hex(5)
        self._ids = itertools.count(1)
        self._closed = False
        self._close_lock = threading.Lock()
        self._reader_lock = threading.Lock()
        self._reader: RecordStore | None = None
        self._pool = (
            Pool(self.path, self.name, self.suite, self.judge, self.options, workers, self._observer)
            if workers
            else None
        )
        registration = (
            self.suite.name,
            self.suite.version,
            self.suite.fingerprint(),
            self.suite.to_yaml(),
            self.sampler.describe(),
        )
        self._writer = Writer(
            self.path, self.name, self.options, registration, self._pool.wake if self._pool else None
        )
        if self._pool is not None:
            self._pool.start()
        # at interpreter exit, persist what is queued (the daemon writer would be killed); the
        # hook holds the monitor, so one left unclosed keeps working until then
        atexit.register(self._at_exit)

    # --- the application's side -----------------------------------------------------------

    def submit(self, record: Mapping[str, Any] | Any) -> str | None:
        """Queue one record for evaluation and return its id at once (``None`` if it could not
        be queued: it is counted in ``stats()["dropped"]`` and logged).

        ``record`` is a dict or a pydantic model: the context, as a row of a DataFrame would
        be (its keys are what paths start from). ``id``, ``time`` (a datetime, ISO text or
        epoch seconds; default now), ``tags`` and ``trace_id`` are taken out as the record's
        metadata; a record without an id gets one. A top-level ``latency_s`` number is also
        kept as the record's latency. The record is encoded now, so changing it afterwards
        changes nothing. Nothing evaluation does ever raises here.

        Raises:
            TypeError: ``record`` is neither a mapping nor a pydantic model.
        """
        if type(record) is not dict:
            if isinstance(record, Mapping):
                record = dict(record)
            elif callable(getattr(record, "model_dump", None)):
                record = record.model_dump()
            else:
                raise TypeError(
                    "submit takes a dict or a pydantic model (the record's fields), "
                    f"got {type(record).__name__}"
                )
        try:
            rid = when = tags = trace = None
            if "id" in record or "time" in record or "tags" in record or "trace_id" in record:
                record = dict(record)
                rid, when = record.pop("id", None), record.pop("time", None)
                tags, trace = record.pop("tags", None), record.pop("trace_id", None)
            rid = f"{self._prefix}-{next(self._ids)}" if rid is None else str(rid)
            tasks = self.sampler.tasks(rid)
            if tasks is False:
                with self._writer.lock:
                    self._unsampled += 1
                return rid
            latency = record.get("latency_s")
            if latency is not None and (isinstance(latency, bool) or not isinstance(latency, int | float)):
                latency = None
            data = orjson.dumps(record, default=_default, option=_JSON_OPTIONS)
            tag_text = (
                None if tags is None else orjson.dumps(tags, default=_default, option=_JSON_OPTIONS).decode()
            )
            kept = self._writer.put(
                (
                    rid,
                    time.time() if when is None else when,
                    data,
                    tag_text,
                    None if trace is None else str(trace),
                    latency,
                    tasks,
                )
            )
        except Exception as e:  # noqa: BLE001 - a record that cannot be encoded must not reach the caller
            with self._writer.lock:
                self._writer.dropped += 1
            log.warning(
                "monitor %r: a record could not be queued (%s: %s); dropped", self.name, type(e).__name__, e
            )
            return None
        return rid if kept else None

    def watch(
        self,
        input: str | Sequence[str] | Mapping[str, str] | None = None,
        output: str = "output",
        *,
        tags: Any = None,
    ) -> Callable[[F], F]:
        """Decorate a function (sync or async) so each call submits its arguments and its
        return value as a record, without changing its result, its exceptions, or its latency
        beyond the cost of :meth:`submit`.

        Args:
            input: which arguments go in the record: a name for the first argument
                (``input="question"``), a list of parameter names, a mapping
                ``{parameter: key}``, or None for every argument under its own name.
                ``self``/``cls`` are left out.
            output: the key the return value goes under.
            tags: tags for every record this function submits.

        A call that raises submits the record without its output and with ``error`` (the
        exception's type and message), then raises the exception unchanged. The record also
        carries ``latency_s``, the call's wall time.

        Example:
            >>> import tempfile, workbench as wb
            >>> suite = wb.Suite(name="w", tasks=[wb.AssertionTask(id="t", path="answer", op="is_string")])
            >>> with tempfile.TemporaryDirectory() as tmp, wb.Monitor(suite, store=tmp, workers=0) as monitor:
            ...     @monitor.watch(input="question", output="answer")
            ...     async def answer(question):
            ...         return question.upper()
            ...     import asyncio; asyncio.run(answer("hi"))
            'HI'
        """
        if not isinstance(output, str) or not output:
            raise ConfigError(f"output={output!r} must be the record key for the return value, e.g. 'answer'")

        def decorate(fn: F) -> F:
            take = self._argument_picker(fn, input)
            if inspect.iscoroutinefunction(fn):

                @functools.wraps(fn)
                async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                    started = time.perf_counter()
                    try:
                        result = await fn(*args, **kwargs)
                    except Exception as e:
                        self._watched(
                            take, args, kwargs, output, None, e, time.perf_counter() - started, tags
                        )
                        raise
                    self._watched(
                        take, args, kwargs, output, result, None, time.perf_counter() - started, tags
                    )
                    return result

                return cast(F, async_wrapper)  # functools.wraps keeps fn's signature

            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    result = fn(*args, **kwargs)
                except Exception as e:
                    self._watched(take, args, kwargs, output, None, e, time.perf_counter() - started, tags)
                    raise
                self._watched(take, args, kwargs, output, result, None, time.perf_counter() - started, tags)
                return result

            return cast(F, wrapper)

        return decorate

    def _argument_picker(
        self, fn: Callable[..., Any], input: str | Sequence[str] | Mapping[str, str] | None
    ) -> Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]:
        """A function of a call's ``(args, kwargs)`` giving the record's input fields."""
        try:
            signature: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):  # a builtin without a signature: positional values by index
            signature = None
        names = [] if signature is None else [p for p in signature.parameters if p not in _UNWATCHED_PARAMS]
        skip = 0
        if (
            signature is not None
            and list(signature.parameters)[:1]
            and next(iter(signature.parameters)) in _UNWATCHED_PARAMS
        ):
            skip = 1
        if isinstance(input, str):
            first = names[0] if names else None

            def pick_first(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
                if len(args) > skip:
                    return {input: args[skip]}
                return {input: kwargs[first]} if first in kwargs else {}

            return pick_first
        if (
            isinstance(input, Mapping)
            or (isinstance(input, Sequence) and not isinstance(input, str))
            or input is None
        ):
            mapping = (
                dict(input)
                if isinstance(input, Mapping)
                else {n: n for n in input}
                if input is not None
                else None
            )
            if signature is None:
                raise ConfigError(
                    f"cannot read the parameters of {fn!r}; pass input='name' to record its first argument"
                )
            if mapping is not None:
                unknown = [p for p in mapping if p not in signature.parameters]
                if unknown:
                    hints = "".join(
                        f" ({u!r}: did you mean {closest(u, names)}?)" for u in unknown if closest(u, names)
                    )
                    raise ConfigError(
                        f"input= names {unknown}, which are not parameters of {getattr(fn, '__name__', fn)!r}"
                        f"{hints}; its parameters are {names}"
                    )

            def pick(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
                assert signature is not None
                bound = signature.bind_partial(*args, **kwargs).arguments
                if mapping is None:
                    return {k: v for k, v in bound.items() if k not in _UNWATCHED_PARAMS}
                return {key: bound[p] for p, key in mapping.items() if p in bound}

            return pick
        raise ConfigError(
            f"input={input!r} must be a parameter's record key (a string), a list of parameter names, "
            "a mapping {parameter: key}, or None for every argument"
        )

    def _watched(
        self,
        take: Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        output: str,
        result: Any,
        error: BaseException | None,
        latency_s: float,
        tags: Any,
    ) -> None:
        try:
            record = take(args, kwargs)
            if error is None:
                record[output] = result
            else:
                record["error"] = f"{type(error).__name__}: {error}"
            record["latency_s"] = latency_s
            if tags is not None:
                record["tags"] = tags
            self.submit(record)
        except Exception as e:  # noqa: BLE001 - the watched function's caller must never see this
            log.warning(
                "monitor %r: a watched call could not be recorded (%s: %s)", self.name, type(e).__name__, e
            )

    # --- waiting, closing ------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record accepted so far is persisted and, with ``workers`` here,
        evaluated (retries included) by whichever worker claimed it. With ``workers=0`` it
        waits for persistence only. True when done, False when ``timeout`` seconds passed
        first; never raises for anything evaluation does."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._writer.lock:
            ticket = self._writer.tickets
        if not self._writer.wait(ticket, timeout):
            return False
        if self._pool is None:
            return True
        counters = self._pool.counters
        while True:
            # committed is not enough: a batch is done once the alerts have seen it too
            if self._open_records() == 0 and counters.busy == 0:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            with counters.changed:
                counters.changed.wait(0.05 if left is None else min(0.05, left))

    def close(self, timeout: float | None = None, drain: bool = True) -> bool:
        """Stop accepting records, persist what is queued and, with ``drain`` and workers
        here, wait until it is evaluated; then stop the workers (claims they still hold go
        back to the queue). True when everything finished within ``timeout``. The context
        manager calls it on exit. A store that keeps failing is given up on after
        ``timeout`` (60 s by default): what could not be persisted is counted as dropped."""
        with self._close_lock:
            if self._closed:
                return True
            self._closed = True
        atexit.unregister(self._at_exit)
        deadline = None if timeout is None else time.monotonic() + timeout
        ok = self._writer.close(60.0 if timeout is None else timeout)
        if self._pool is not None:
            if drain and ok:
                ok = self.flush(None if deadline is None else max(0.0, deadline - time.monotonic()))
            left = None if deadline is None else max(0.1, deadline - time.monotonic())
            ok = self._pool.stop(left) and ok
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        close = getattr(self._observer, "close", None)
        if callable(close):
            try:
                close()
            except Exception as e:  # noqa: BLE001 - closing must finish; the failure is logged
                log.warning("monitor %r: closing the alerts failed (%s: %s)", self.name, type(e).__name__, e)
        return ok

    def _at_exit(self) -> None:
        with contextlib.suppress(Exception):
            self.close(timeout=5.0, drain=False)

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open_records(self) -> int:
        with self._reader_lock:
            try:
                if self._reader is None:
                    self._reader = RecordStore(self.path, self.name)
                return self._reader.open_count()
            except Exception as e:  # noqa: BLE001 - a flush never raises; the store is tried again
                if self._reader is not None:
                    self._reader.close()
                    self._reader = None
                log.debug("monitor %r: counting open records failed: %s", self.name, e)
                return -1

    # --- reading ----------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Counts of this process's monitor: ``submitted`` (records given to submit),
        ``sampled`` (of those, chosen for evaluation), ``persisted`` (written to the store),
        ``evaluated`` (records whose cells this process's workers committed), ``errors`` (of
        those, records with an error cell), ``dropped`` (never persisted: a full queue, a
        closed monitor, or a store that failed until close), ``queued`` (in memory, not yet
        persisted), ``retried`` (evaluations that ended in a retry); also ``duplicates``
        (records whose id the store already held) and ``reclaimed`` (records taken over
        from a worker whose lease ran out).

        Example:
            >>> import tempfile, workbench as wb
            >>> suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="t", path="x", op="is_positive")])
            >>> with tempfile.TemporaryDirectory() as tmp, wb.Monitor(suite, store=tmp, sample_ratio=0) as m:
            ...     _ = m.submit({"x": 1})
            ...     {k: m.stats()[k] for k in ("submitted", "sampled", "dropped")}
            {'submitted': 1, 'sampled': 0, 'dropped': 0}
        """
        w = self._writer
        c = self._pool.counters if self._pool is not None else None
        with w.lock:
            return {
                "submitted": w.sampled + self._unsampled,
                "sampled": w.sampled,
                "persisted": w.persisted,
                "evaluated": c.evaluated if c else 0,
                "errors": c.errors if c else 0,
                "dropped": w.dropped,
                "queued": w.waiting,
                "retried": c.retried if c else 0,
                "duplicates": w.duplicates,
                "reclaimed": c.reclaimed if c else 0,
            }

    def results(self, since: Any = None, until: Any = None) -> Any:
        """This monitor's stored results (see :func:`~workbench.monitor_results`)."""
        from ._results import monitor_results

        return monitor_results(self.store, self.name, since=since, until=until)

    def records(self, since: Any = None, until: Any = None, ids: Sequence[str] | None = None) -> Any:
        """This monitor's persisted records (see :func:`~workbench.monitor.monitor_records`)."""
        from ._records import monitor_records

        return monitor_records(self.store, self.name, since=since, until=until, ids=ids)

    def __repr__(self) -> str:
        s = self.stats()
        state = "closed" if self._closed else f"{self.workers} worker{'s' if self.workers != 1 else ''}"
        return (
            f"Monitor({self.name!r}, store={str(self.path)!r}, {state}: {s['submitted']:,} submitted, "
            f"{s['persisted']:,} persisted, {s['evaluated']:,} evaluated, {s['errors']:,} with errors, "
            f"{s['dropped']:,} dropped)"
        )
