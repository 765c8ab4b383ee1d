"""workbench.charts: chart specs built from real runs, checked through ``chart.to_dict()``, and
offline rendering (renderer HTML, a headless Chromium page, PNG/SVG/PDF export)."""

from __future__ import annotations

import base64
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import altair as alt
import nbformat
import pandas as pd
import pytest

import workbench as wb
from workbench import charts
from workbench.charts._render import enable_on_import
from workbench.testing import JudgeServer

C = wb.Criterion
N = 60
XSS = '</script><script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
CHROMIUM = "/usr/lib/chromium/chromium"


def _suite(version: str) -> wb.Suite:
    # the version is in the prompts, so each version's verdicts differ (the server derives them
    # from the prompt)
    return wb.Suite(
        name="support",
        version=version,
        tasks=[
            wb.AssertionTask(
                id="short", path="answer", op="has_length_less_than", expected=10 if version == "v1" else 11
            ),
            wb.JudgeTask(
                id="quality",
                prompt=f"[{version}] Question: ${{question}}\nAnswer: ${{answer}}",
                threshold=3,
                criteria=[
                    C(name="accuracy", description="Correct."),
                    C(name="clarity", description="Clear."),
                ],
            ),
            wb.JudgeTask(
                id="tone",
                prompt=f"[{version}] Answer: ${{answer}}",
                scale="binary",
                criteria=[C(name="polite", description="Polite.")],
            ),
            wb.JudgeTask(
                id="detail",
                prompt=f"[{version}] Answer: ${{answer}}",
                scale=(1, 10),
                criteria=[C(name="depth", description="Detailed.")],
            ),
        ],
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, wb.Run]:
    """Three versions of a suite evaluated for real: assertions, and judges through litellm to the
    local server."""
    df = pd.DataFrame(
        {
            "question": [f"What is {i} + {i}?" for i in range(N)],
            "answer": [f"It is {2 * i}." for i in range(N)],
        },
        index=pd.Index([f"q{i}" for i in range(N)], name="id"),
    )
    cache = tmp_path_factory.mktemp("cache")
    with JudgeServer() as server:
        kw = {"model": server.model, **server.litellm_kwargs, "cache_dir": cache, "progress": False}
        return {v: wb.evaluate(df, _suite(v), **kw) for v in ("v1", "v2", "v3")}


@pytest.fixture
def renderer() -> Iterator[None]:
    """Restore altair's active renderer after a test that switches it."""
    name, options = alt.renderers.active, alt.renderers.options
    yield
    alt.renderers.enable(name, **options)


def data_of(spec: dict[str, Any]) -> pd.DataFrame:
    """The inline data a top-level spec carries, with the ``check`` a faceted chart computes
    from ``task`` and ``criterion`` (its calculate transform, checked in Vega by the SVG tests)."""
    data = pd.DataFrame(spec["datasets"][spec["data"]["name"]])
    if any(t.get("as") == "check" for t in spec.get("transform", [])):
        assert "check" not in data.columns
        data["check"] = data["task"].where(data["criterion"] == "", data["task"] + " · " + data["criterion"])
    return data


def tooltip_fields(encoding: dict[str, Any]) -> list[str]:
    return [t["field"] for t in encoding["tooltip"]]


def hostile(run: wb.Run) -> pd.DataFrame:
    """The run's results with markup in every seventh reason, as a judge quoting an answer might write."""
    r = run.results
    return r.assign(reason=r["reason"].where(r.index % 7 != 0, XSS))


def scored(run: wb.Run) -> pd.DataFrame:
    r = run.results
    return r[r["score"].notna()]


# --- distributions ------------------------------------------------------------------------


def test_distributions_draws_one_dot_per_scored_cell_faceted_by_check(runs: dict[str, wb.Run]) -> None:
    run = runs["v1"]
    spec = charts.distributions(run, height=400).to_dict()
    inner = spec["spec"]
    assert inner["mark"]["type"] == "circle"
    assert spec["facet"]["field"] == "check"
    assert spec["facet"]["sort"] == [
        "quality · accuracy",
        "quality · clarity",
        "tone · polite",
        "detail · depth",
    ]
    assert spec["resolve"]["scale"] == {"x": "independent", "y": "shared"}
    enc = inner["encoding"]
    # one run, one column per score: every dot sits at its score and all have one size, so the
    # data carries neither an x position nor a size per cell
    assert (enc["x"]["field"], enc["x"]["title"], enc["y"]["field"], enc["y"]["title"]) == (
        "score",
        "Score",
        "cells",
        "Cells",
    )
    assert set(enc["size"]) == {"value"}
    assert enc["color"] == {"value": charts.OKABE_ITO[0]}  # one run: no run colour
    assert tooltip_fields(enc) == ["row", "task", "criterion", "score", "label", "status", "reason"]

    data = data_of(spec)
    assert not {"x", "dot"} & set(data.columns)
    cells = scored(run)
    assert len(data) == len(cells) == N * 4  # assertions have no score: only the judge criteria
    # each dot is one cell: its tooltip names the row, the score and the reason the judge gave
    expected = cells.assign(row=cells["row"].astype(str), criterion=cells["criterion"].astype(str))
    merged = data.merge(
        expected[["row", "criterion", "score", "reason"]], on=["row", "criterion"], suffixes=("", "_r")
    )
    assert len(merged) == len(data)
    assert (merged["score"] == merged["score_r"].astype(float)).all()
    assert (merged["reason"] == merged["reason_r"].astype(str)).all()
    # stacks: the highest dot of a score sits at the number of cells with that score
    tops = data.groupby(["check", "score"])["cells"].max()
    counts = data.groupby(["check", "score"]).size()
    assert (tops == counts).all()


def test_distributions_of_several_runs_colours_and_dodges_by_run(runs: dict[str, wb.Run]) -> None:
    both = charts.combine({"v1": runs["v1"], "v2": runs["v2"]})
    spec = charts.distributions(both).to_dict()
    enc = spec["spec"]["encoding"]
    assert enc["color"]["field"] == "run"
    assert enc["color"]["scale"] == {"domain": ["v1", "v2"], "range": list(charts.OKABE_ITO[:2])}
    assert "run" in tooltip_fields(enc)
    data = data_of(spec)
    assert data.groupby("run").size().to_dict() == {"v1": N * 4, "v2": N * 4}
    offset = data["x"] - data["score"]
    assert (offset[data["run"] == "v1"] < 0).all() and (offset[data["run"] == "v2"] > 0).all()


def test_distributions_wrap_tall_stacks_into_blocks_of_distinct_dots(runs: dict[str, wb.Run]) -> None:
    # 60 binary verdicts, about 30 per score: too tall for one column of readable dots in 60 pixels
    spec = charts.distributions(runs["v1"], height=60).to_dict()
    assert spec["resolve"]["scale"]["y"] == "independent"
    data = data_of(spec)
    tone = data[data["check"] == "tone · polite"]
    assert tone.duplicated(["x", "cells"]).sum() == 0  # no dot hides another
    assert (tone.groupby("score")["x"].nunique() > 1).all()  # blocks, not single columns
    assert (tone["x"] - tone["score"]).abs().max() < 0.5  # each block stays at its score
    assert len(tone) == N
    # the count axis still reads cells: a block's top row sits within one row of its count
    top, count = tone.groupby("score")["cells"].max(), tone.groupby("score").size()
    width = tone.groupby("score")["x"].nunique()
    assert ((top - count).abs() <= width).all()


def test_distributions_past_max_cells_count_cells_in_bars_with_example_rows(runs: dict[str, wb.Run]) -> None:
    run = runs["v1"]
    spec = charts.distributions(run, max_cells=100).to_dict()
    inner = spec["spec"]
    assert inner["mark"]["type"] == "bar"
    assert {"x", "x2", "y", "y2"} <= set(inner["encoding"])
    assert tooltip_fields(inner["encoding"]) == ["task", "criterion", "score", "cells", "share", "examples"]
    data = data_of(spec)
    cells = scored(run)
    expected = (
        cells.groupby(
            [cells["task"].astype(str), cells["criterion"].astype(str), cells["score"].astype(float)]
        )
        .size()
        .to_dict()
    )
    assert data.set_index(["task", "criterion", "score"])["cells"].to_dict() == expected
    assert data.groupby("check")["share"].sum().round(9).eq(1).all()
    assert "max_cells=100" in spec["title"]["subtitle"]


def test_distributions_refuses_frames_without_scores_or_columns(runs: dict[str, wb.Run]) -> None:
    assertions = runs["v1"].results.query("kind == 'assertion'")
    with pytest.raises(wb.DataError, match=r"no scored cell among 60.*charts\.pass_rates"):
        charts.distributions(assertions)
    with pytest.raises(wb.ColumnsError) as e:
        charts.distributions(runs["v1"].results.drop(columns=["reason", "score"]))
    msg = str(e.value)
    assert "needs the columns ['score', 'reason']" in msg and "Columns in the frame: ['row', 'task'" in msg
    with pytest.raises(wb.WorkbenchError, match="not str"):
        charts.distributions("v1")


# --- pass rates ----------------------------------------------------------------------------


def test_pass_rates_are_points_with_interval_bars(runs: dict[str, wb.Run]) -> None:
    summary = runs["v1"].summary()
    spec = charts.pass_rates(summary).to_dict()
    interval, point = spec["layer"]
    assert (interval["mark"]["type"], point["mark"]["type"]) == ("rule", "point")
    assert (interval["encoding"]["x"]["field"], interval["encoding"]["x2"]["field"]) == (
        "pass_rate_low",
        "pass_rate_high",
    )
    assert point["encoding"]["x"]["field"] == "pass_rate"
    assert point["encoding"]["y"]["field"] == interval["encoding"]["y"]["field"] == "check"
    assert tooltip_fields(point["encoding"]) == [
        "task",
        "criterion",
        "pass_rate",
        "pass_rate_low",
        "pass_rate_high",
        "n",
        "passed",
        "failed",
    ]
    data = data_of(spec)
    expected = summary[summary["pass_rate"].notna()]
    assert data["check"].tolist() == ["short", "quality · accuracy", "quality · clarity", "tone · polite"]
    assert data["pass_rate"].tolist() == pytest.approx(expected["pass_rate"].astype(float).tolist())
    assert (data["pass_rate_low"] <= data["pass_rate"]).all() and (
        data["pass_rate"] <= data["pass_rate_high"]
    ).all()


def test_pass_rates_of_several_runs_sit_side_by_side(runs: dict[str, wb.Run]) -> None:
    for source in (
        {"v1": runs["v1"], "v2": runs["v2"]},
        charts.combine({"v1": runs["v1"], "v2": runs["v2"]}),
    ):
        spec = charts.pass_rates(source).to_dict()
        for layer in spec["layer"]:
            assert layer["encoding"]["yOffset"]["field"] == layer["encoding"]["color"]["field"] == "run"
        data = data_of(spec)
        v2 = runs["v2"].summary().set_index(["task", "criterion"])["pass_rate"]
        got = data[data["run"] == "v2"].set_index(["task", "criterion"])["pass_rate"]
        assert got.tolist() == pytest.approx([float(v2[k]) for k in got.index])


def test_pass_rates_name_missing_columns() -> None:
    with pytest.raises(wb.ColumnsError, match=r"needs the columns \['pass_rate_low', 'pass_rate_high'\]"):
        charts.pass_rates(pd.DataFrame({"task": ["t"], "criterion": [""], "pass_rate": [0.5]}))


# --- comparison ----------------------------------------------------------------------------


def test_comparison_marks_significant_changes_around_a_zero_rule(runs: dict[str, wb.Run]) -> None:
    result = wb.compare(runs["v1"], runs["v2"])
    chart = charts.comparison(result)
    assert isinstance(chart, alt.FacetChart)  # pass-rate and score checks: one panel per metric
    spec = chart.to_dict()
    assert spec["facet"]["row"]["field"] == "metric"
    zero, interval, point = spec["spec"]["layer"]
    assert zero["mark"]["type"] == "rule" and zero["encoding"]["x"] == {"datum": 0}
    assert (interval["encoding"]["x"]["field"], interval["encoding"]["x2"]["field"]) == ("ci_low", "ci_high")
    assert point["encoding"]["x"]["field"] == "delta"
    assert point["encoding"]["color"]["field"] == point["encoding"]["shape"]["field"] == "significance"
    assert point["encoding"]["shape"]["scale"]["range"] == ["diamond", "circle"]
    assert {"task", "criterion", "delta", "ci_low", "ci_high", "p_holm", "significance"} <= set(
        tooltip_fields(point["encoding"])
    )
    data = data_of(spec).set_index("check")
    table = result.table
    # the assertion's threshold moved from 10 to 11 characters: more answers pass under v2
    assert data.loc["short", "significance"] == "Significant" and data.loc["short", "delta"] > 0
    for _, t in table.iterrows():
        check = t["task"] if t["criterion"] == "" else f"{t['task']} · {t['criterion']}"
        assert data.loc[check, "significance"] == ("Significant" if t["significant"] else "Not significant")
        assert data.loc[check, "delta"] == pytest.approx(float(t["delta"]))


def test_comparison_of_one_metric_is_a_single_layered_chart(runs: dict[str, wb.Run]) -> None:
    table = wb.compare(runs["v1"], runs["v2"]).table
    spec = charts.comparison(table[table["metric"] == "score"]).to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["rule", "rule", "point"]
    assert len(data_of(spec)) == 4
    assert "B" in spec["title"]["text"] and "A" in spec["title"]["text"]
    with pytest.raises(wb.ColumnsError, match=r"\['significant', 'p_holm'\]"):
        charts.comparison(table.drop(columns=["significant", "p_holm"]))


# --- cost against score --------------------------------------------------------------------


def test_cost_vs_score_falls_back_to_tokens_without_prices(runs: dict[str, wb.Run]) -> None:
    run = runs["v1"]
    assert run.results["cost_usd"].isna().all()  # the local judge's model has no price
    spec = charts.cost_vs_score(run).to_dict()
    enc = spec["spec"]["encoding"]
    assert spec["spec"]["mark"]["type"] == "circle"
    assert (enc["x"]["field"], enc["y"]["field"], enc["y"]["title"]) == ("x", "tokens", "Tokens per cell")
    assert {"row", "reason", "score", "tokens"} <= set(tooltip_fields(enc))
    data = data_of(spec)
    judged = scored(run)
    assert len(data) == len(judged) and set(data["task"]) == {"quality", "tone", "detail"}
    assert (data["x"] - data["score"]).abs().max() < 0.5


def test_cost_vs_score_shows_dollars_of_calls_made_and_leaves_out_cached_cells(
    runs: dict[str, wb.Run],
) -> None:
    r = runs["v2"].results
    priced = r.assign(
        cost_usd=pd.array(r["tokens"].astype("Float64") * 2e-6, dtype="Float64"),
        cached=r["row"].isin(["q1", "q2"]),
    )
    spec = charts.cost_vs_score(priced).to_dict()
    assert spec["spec"]["encoding"]["y"]["field"] == "cost_usd"
    data = data_of(spec)
    assert not data["row"].isin(["q1", "q2"]).any() and len(data) == (N - 2) * 4
    assert "8 cached cells are left out" in " ".join(spec["title"]["subtitle"])
    sampled = data_of(charts.cost_vs_score(priced, max_points=50).to_dict())
    assert len(sampled) == 50


# --- trend ---------------------------------------------------------------------------------


def test_trend_draws_a_line_per_criterion_in_start_order(runs: dict[str, wb.Run]) -> None:
    spec = charts.trend({"v1": runs["v1"], "v2": runs["v2"], "v3": runs["v3"]}).to_dict()
    line, point = spec["layer"]
    assert (line["mark"]["type"], point["mark"]["type"]) == ("line", "point")
    enc = line["encoding"]
    assert enc == point["encoding"]
    x, y, color = enc["x"], enc["y"], enc["color"]
    assert (x["field"], x["sort"], y["field"], color["field"]) == ("run", ["v1", "v2", "v3"], "mean", "check")
    assert {"run", "started_at", "task", "criterion", "mean", "pass_rate"} <= set(tooltip_fields(enc))
    data = data_of(spec)
    assert len(data) == 3 * 4  # judge criteria only: assertions have no mean score
    v3 = runs["v3"].summary().set_index(["task", "criterion"])["mean"]
    got = data[data["run"] == "v3"].set_index(["task", "criterion"])["mean"]
    assert got.tolist() == pytest.approx([float(v3[k]) for k in got.index])


def test_trend_orders_runs_by_started_at_not_by_position() -> None:
    frame = pd.DataFrame(
        {
            "run": ["late", "early", "late", "early"],
            "task": "quality",
            "criterion": ["a", "a", "b", "b"],
            "started_at": pd.to_datetime(["2026-03-01", "2026-01-01", "2026-03-01", "2026-01-01"]),
            "mean": [3.0, 2.0, 4.0, 4.5],
            "pass_rate": [0.5, 0.4, 0.9, 0.95],
        }
    )
    enc = charts.trend(frame, value="pass_rate").to_dict()["layer"][0]["encoding"]
    assert enc["x"]["sort"] == ["early", "late"]
    assert enc["y"]["field"] == "pass_rate" and enc["y"]["axis"]["format"] == "%"
    with pytest.raises(wb.ColumnsError, match=r"needs the column \['started_at'\]"):
        charts.trend(frame.drop(columns="started_at"))


# --- combine -------------------------------------------------------------------------------


def test_combine_keeps_the_given_order_and_names(runs: dict[str, wb.Run]) -> None:
    both = charts.combine({"v2": runs["v2"], "v1": runs["v1"].results})
    assert list(both["run"].cat.categories) == ["v2", "v1"] and both.columns[0] == "run"
    assert len(both) == 2 * len(runs["v1"].results)
    listed = charts.combine([runs["v1"], runs["v2"], runs["v1"]])  # named by label, else id, else position
    name = runs["v1"].label or runs["v1"].id
    assert name and list(listed["run"].cat.categories) == [
        name,
        runs["v2"].label or runs["v2"].id,
        f"{name} (2)",
    ]
    frames = charts.combine([runs["v1"].results, runs["v2"].results])
    assert list(frames["run"].cat.categories) == ["run 1", "run 2"]
    with pytest.raises(wb.ColumnsError, match="already have a 'run' column"):
        charts.combine([both])


# --- offline rendering ---------------------------------------------------------------------

_INERT_URLS = {  # strings inside vega's code and the spec's $schema: identifiers, never fetched
    "http://www.w3.org/2000/svg",
    "http://www.w3.org/1999/xlink",
    "http://www.w3.org/2000/xmlns/",
    "https://github.com/vega/vega-lite/issues/2415",
    "https://vega.github.io/schema/vega/v6.json",
    "https://vega.github.io/editor/",
}


class _Links(HTMLParser):
    """Collects the src/href of every element: what a browser would fetch (script text is not markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [f"{tag} {k}={v}" for k, v in attrs if k in ("src", "href") and v]


def assert_offline(html: str) -> None:
    parser = _Links()
    parser.feed(html)
    assert parser.links == []
    assert "jsdelivr" not in html and "unpkg" not in html
    urls = set(re.findall(r"https?://[^\s\"'`)<>\\]+", html))
    assert {u for u in urls if not u.startswith("https://vega.github.io/schema/vega-lite/")} <= _INERT_URLS


def test_importing_charts_enables_the_offline_renderer_unless_another_was_chosen(renderer: None) -> None:
    alt.renderers.enable("mimetype")
    enable_on_import()
    assert alt.renderers.active == "mimetype"  # a choice the user made is kept
    alt.renderers.enable("default")
    enable_on_import()
    assert alt.renderers.active == charts.RENDERER
    assert alt.renderers.options["embed_options"]["renderer"] == "svg"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_a_chart_output_is_the_vegalite5_bundle_jupyterlab_draws_itself(
    runs: dict[str, wb.Run], renderer: None
) -> None:
    charts.enable_offline()
    chart = charts.distributions(hostile(runs["v1"]))
    data, metadata = chart._repr_mimebundle_()
    # no text/html: JupyterLab would prefer it to the vega renderer and blank it when untrusted
    assert list(data) == [charts.VEGALITE_MIMETYPE, "image/png", "text/plain"]
    assert charts.VEGALITE_MIMETYPE == "application/vnd.vegalite.v5+json"
    spec = data[charts.VEGALITE_MIMETYPE]
    assert spec["$schema"] == "https://vega.github.io/schema/vega-lite/v5.json"
    assert {k: v for k, v in spec.items() if k != "$schema"} == {
        k: v for k, v in chart.to_dict().items() if k != "$schema"
    }
    assert data["text/plain"] == "<Vega-Lite 5 chart 'Score distribution per criterion'>"
    assert metadata == {
        charts.VEGALITE_MIMETYPE: {
            "embed_options": {
                "renderer": "svg",
                "actions": {"export": True, "source": False, "compiled": False, "editor": False},
            }
        }
    }
    # the output carries the chart and a 2 KB picture for viewers without vega; no JavaScript
    picture = base64.b64decode(data["image/png"])
    assert png_size(picture) == (576, 30) and len(picture) < 2500
    assert len(json.dumps(data)) < len(json.dumps(spec)) + 3000
    with charts.enable_offline(lab_png=True):  # JupyterLab then stores its own PNG of the chart
        assert "image/png" not in alt.Chart().mark_point()._repr_mimebundle_()[0]
    with charts.enable_offline({"renderer": "canvas"}):
        _, meta = alt.Chart().mark_point()._repr_mimebundle_()
        assert meta[charts.VEGALITE_MIMETYPE]["embed_options"]["renderer"] == "canvas"


def test_the_html_form_carries_vega_guarded_and_escapes_data(runs: dict[str, wb.Run], renderer: None) -> None:
    with charts.enable_offline(html=True):
        bundle = charts.distributions(hostile(runs["v1"]))._repr_mimebundle_()
    html = bundle["text/html"]
    assert_offline(html)
    assert html.count("if (!window.vegaEmbed)") == 1 and html.count("window.vegaEmbed(el") == 1
    assert '"renderer": "svg"' in html
    assert "window.__xss=1" in html  # the payload is in the chart's data ...
    assert html.lower().count("</script") == 1  # ... but only the renderer's own tag closes a script
    assert "<img src=x" not in html
    snippet = charts.chart_html(charts.pass_rates(runs["v1"]).to_dict())
    assert "if (!window.vegaEmbed)" not in snippet and snippet.count("window.vegaEmbed(el") == 1


def _every_chart(runs: dict[str, wb.Run]) -> dict[str, alt.TopLevelMixin]:
    v1, v2 = runs["v1"], runs["v2"]
    table = wb.compare(v1, v2)
    return {
        "distributions": charts.distributions(v1),
        "distributions of runs": charts.distributions(runs),
        "distributions in blocks": charts.distributions(v1, height=60),
        "distributions as bars": charts.distributions(v1, max_cells=100),
        "pass_rates": charts.pass_rates(v1),
        "pass_rates of runs": charts.pass_rates(runs),
        "comparison": charts.comparison(table),
        "comparison of scores": charts.comparison(table.table[table.table["metric"] == "score"]),
        "cost_vs_score": charts.cost_vs_score(v1),
        "trend": charts.trend(runs),
    }


def test_every_chart_draws_the_same_as_vegalite_5_and_6(runs: dict[str, wb.Run]) -> None:
    """A notebook output is the altair 6 spec relabelled Vega-Lite 5 (JupyterLab's is 5.6.1):
    Vega-Lite 5.8, the oldest vl-convert ships, must draw what 6 draws. The browser test
    compares JupyterLab's own drawing with these SVGs."""
    import vl_convert as vlc

    assert "5.8" in vlc.get_vegalite_versions()
    for name, chart in _every_chart(runs).items():
        spec = chart.to_dict()
        as_six = vlc.vegalite_to_svg(spec, vl_version="6.4")
        as_five = vlc.vegalite_to_svg(charts.as_vegalite5(spec), vl_version="5.8")
        assert as_five == as_six, name
        assert len(re.findall(r"<path|<line", as_six)) > 20, name  # it drew marks


def test_the_count_axis_of_short_stacks_reads_whole_cells() -> None:
    import vl_convert as vlc

    for scores, ticks in (
        ([4.0], ["0", "1"]),
        ([4.0, 5.0, 4.0], ["0", "1", "2"]),
        ([3.0] * 7, ["0", "2", "4", "6"]),
    ):
        cells = pd.DataFrame(
            {"row": range(len(scores)), "task": "q", "criterion": "a", "score": scores, "reason": "r"}
        )
        svg = vlc.vegalite_to_svg(charts.distributions(cells).to_dict())
        texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
        assert texts[: texts.index("Cells")] == ticks, scores


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"headless Chromium not installed at {CHROMIUM}")
def test_two_charts_render_in_one_page_offline_in_chromium(
    runs: dict[str, wb.Run], renderer: None, tmp_path: Path
) -> None:
    from nbconvert import HTMLExporter
    from playwright.sync_api import sync_playwright

    charts.enable_offline(html=True)
    first = charts.distributions(hostile(runs["v1"]))._repr_mimebundle_()
    second = charts.pass_rates({"v1": runs["v1"], "v2": runs["v2"]})._repr_mimebundle_()
    # a page holding two outputs of the HTML form as Jupyter shows them, each carrying (and
    # guarding) the bundle
    page = tmp_path / "outputs.html"
    page.write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{first['text/html']}"
        f"<div class='jp-OutputArea'>{second['text/html']}</div></body></html>",
        encoding="utf-8",
    )
    # the same two outputs in a notebook exported by nbconvert, and charts.to_html's page
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "chart", outputs=[nbformat.v4.new_output("display_data", data=b) for b in (first, second)]
            )
        ]
    )
    html, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    exported = tmp_path / "exported.html"
    exported.write_text(html, encoding="utf-8")
    standalone = tmp_path / "page.html"
    two = charts.to_html(charts.trend(runs), charts.cost_vs_score(runs["v1"]))
    standalone.write_text(two, encoding="utf-8")

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            for path, titles in (
                (page, ["Score distribution per criterion", "Pass rate per check"]),
                (exported, ["Score distribution per criterion", "Pass rate per check"]),
                (standalone, ["Mean score per check over runs", "Judge tokens against score"]),
            ):
                seen = visit(browser, path)
                assert all(t in seen["texts"] for t in titles), (path.name, titles)
                assert seen["xss"] is None
                errors = seen["errors"]
                if (
                    path is exported
                ):  # nbconvert's lab template asks cdnjs for require.js; the charts ask nothing
                    assert all(
                        u.startswith("https://cdnjs.cloudflare.com/") and "vega" not in u
                        for u in seen["fetched"]
                    )
                    errors = [e for e in errors if not e.startswith("Failed to load resource")]
                else:
                    assert not seen["fetched"], (path.name, seen["fetched"])
                assert not errors, (path.name, errors)
        finally:
            browser.close()


def visit(browser: Any, path: Path) -> dict[str, Any]:
    """Open ``path`` with every non-file request blocked, wait for two rendered charts, and
    report the SVG texts, page and console errors, blocked requests and ``window.__xss``."""
    ctx = browser.new_context()
    page = ctx.new_page()
    errors: list[str] = []
    fetched: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    def block(route: Any) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            fetched.append(route.request.url)
            route.abort()

    page.route("**/*", block)
    page.goto(path.as_uri())
    page.wait_for_function("document.querySelectorAll('.wb-chart svg.marks').length === 2", timeout=15000)
    texts = page.eval_on_selector_all(".wb-chart svg text", "els => els.map(e => e.textContent)")
    seen = {"texts": texts, "errors": errors, "fetched": fetched, "xss": page.evaluate("window.__xss")}
    ctx.close()
    return seen


# --- export --------------------------------------------------------------------------------


def test_save_writes_png_svg_pdf_and_html_offline(runs: dict[str, wb.Run], tmp_path: Path) -> None:
    chart = charts.pass_rates(runs["v1"])
    png = charts.save(chart, tmp_path / "rates.png")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 400 and height > 100  # scale=2
    svg = charts.save(chart, tmp_path / "rates.svg")
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert "Pass rate per check" in "".join(root.itertext())
    assert charts.save(chart, tmp_path / "rates.pdf").read_bytes()[:5] == b"%PDF-"
    page = charts.save(chart, tmp_path / "rates.html").read_text()
    assert_offline(page)
    assert page.count("window.vegaEmbed(el") == 1
    with pytest.raises(wb.WorkbenchError, match=r"unknown format '.jpg'.*'.png', '.svg', '.pdf', '.html'"):
        charts.save(chart, tmp_path / "rates.jpg")
