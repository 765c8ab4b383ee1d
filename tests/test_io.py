"""load_dataset: each format, what cells look like, the id index, and the error messages."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

import workbench as wb
from workbench.io import SUPPORTED_EXTENSIONS, load_dataset

DATASETS = Path(__file__).resolve().parent.parent / "datasets"

ROWS = [
    {
        "id": "r1",
        "response": '{"answer": "Paris", "citations": []}',
        "meta": {"lang": "fr", "tags": ["geo"]},
        "latency_ms": 120,
    },
    {"id": "r2", "response": "plain text, not JSON", "meta": {"lang": "en", "tags": []}, "latency_ms": 2400},
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


# --- formats ------------------------------------------------------------------------------


def test_jsonl_keeps_json_strings_as_strings(tmp_path: Path) -> None:
    df = load_dataset(write_jsonl(tmp_path / "d.jsonl", ROWS))
    assert df.loc["r1", "response"] == '{"answer": "Paris", "citations": []}'


def test_jsonl_keeps_nested_values_as_python_objects(tmp_path: Path) -> None:
    df = load_dataset(write_jsonl(tmp_path / "d.jsonl", ROWS))
    assert df.loc["r1", "meta"] == {"lang": "fr", "tags": ["geo"]}


def test_jsonl_infers_numbers(tmp_path: Path) -> None:
    df = load_dataset(write_jsonl(tmp_path / "d.jsonl", ROWS))
    assert pd.api.types.is_integer_dtype(df["latency_ms"])


def test_jsonl_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"x": 1}\n\n   \n{"x": 2}\n', encoding="utf-8")
    assert load_dataset(path)["x"].tolist() == [1, 2]


def test_jsonl_rows_may_have_different_keys(tmp_path: Path) -> None:
    df = load_dataset(write_jsonl(tmp_path / "d.jsonl", [{"a": 1}, {"b": "x"}]))
    assert list(df.columns) == ["a", "b"] and math.isnan(df.loc[1, "a"])


def test_json_array_of_records(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps(ROWS), encoding="utf-8")
    df = load_dataset(path)
    assert df.loc["r2", "response"] == "plain text, not JSON"
    assert df.loc["r2", "meta"] == {"lang": "en", "tags": []}


def test_json_written_by_pandas_records_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    pd.DataFrame({"id": ["a", "b"], "score": [1.5, 2.0]}).to_json(path, orient="records")
    assert load_dataset(path)["score"].to_dict() == {"a": 1.5, "b": 2.0}


def test_csv(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    df = pd.DataFrame({"id": ["a", "b"], "response": ['{"answer": "x"}', "y"], "n": [1, 2]})
    df.to_csv(path, index=False)
    df = load_dataset(path)
    assert df.loc["a", "response"] == '{"answer": "x"}'
    assert df["n"].tolist() == [1, 2]


def test_csv_only_empty_cells_are_missing(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('answer\nNA\nNone\nnull\n""\nok\n', encoding="utf-8")
    answers = load_dataset(path)["answer"].tolist()
    assert answers[:3] == ["NA", "None", "null"]
    assert pd.isna(answers[3]) and answers[4] == "ok"


def test_parquet_nested_columns_become_python_objects(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pd.DataFrame(
        {
            "id": ["a", "b"],
            "citations": [[{"url": "https://x.org"}], []],
            "tags": [["x", "y"], ["z"]],
            "response": ['{"answer": "x"}', "plain"],
        }
    ).to_parquet(path)
    df = load_dataset(path)
    assert df.loc["a", "citations"] == [{"url": "https://x.org"}]
    assert df.loc["a", "tags"] == ["x", "y"] and type(df.loc["a", "tags"]) is list
    assert df.loc["a", "response"] == '{"answer": "x"}'


def test_extension_is_case_insensitive(tmp_path: Path) -> None:
    assert len(load_dataset(write_jsonl(tmp_path / "d.JSONL", ROWS))) == 2


def test_loaded_parquet_evaluates_like_jsonl(tmp_path: Path) -> None:
    task = wb.AssertionTask(id="url", path="citations", op="is_url", item_path="url")
    suite = wb.Suite(name="s", tasks=[task])
    citations = [[{"url": "https://x.org"}], [{"url": "x.org"}]]
    pd.DataFrame({"id": ["a", "b"], "citations": citations}).to_parquet(tmp_path / "d.parquet")
    run = wb.evaluate(load_dataset(tmp_path / "d.parquet"), suite)
    assert run.results.set_index("row")["status"].astype(str).to_dict() == {"a": "passed", "b": "failed"}


# --- the id index -----------------------------------------------------------------------------


def test_unique_id_becomes_the_index(tmp_path: Path) -> None:
    df = load_dataset(write_jsonl(tmp_path / "d.jsonl", ROWS))
    assert df.index.name == "id" and df.index.tolist() == ["r1", "r2"]
    assert "id" not in df.columns


def test_results_rows_are_the_ids(tmp_path: Path) -> None:
    df = load_dataset(write_jsonl(tmp_path / "d.jsonl", ROWS))
    suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="j", path="response", op="is_json")])
    assert wb.evaluate(df, suite).results["row"].tolist() == ["r1", "r2"]


def test_duplicate_ids_stay_a_column(tmp_path: Path) -> None:
    df = load_dataset(write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "x": 1}, {"id": "a", "x": 2}]))
    assert df.index.tolist() == [0, 1] and df["id"].tolist() == ["a", "a"]


def test_missing_ids_stay_a_column(tmp_path: Path) -> None:
    df = load_dataset(write_jsonl(tmp_path / "d.jsonl", [{"id": "a"}, {"x": 2}]))
    assert "id" in df.columns and df.index.tolist() == [0, 1]


def test_no_id_column_gives_a_range_index(tmp_path: Path) -> None:
    df = load_dataset(write_jsonl(tmp_path / "d.jsonl", [{"x": 1}, {"x": 2}]))
    assert df.index.tolist() == [0, 1]


# --- errors -------------------------------------------------------------------------------------


def test_missing_file_names_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(wb.DataError) as e:
        load_dataset("nowhere.jsonl")
    assert str(e.value) == f"dataset 'nowhere.jsonl' does not exist (current directory: {tmp_path})"


def test_a_directory_is_not_a_dataset(tmp_path: Path) -> None:
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(wb.DataError, match="is a directory, not a file"):
        load_dataset(tmp_path / "d.csv")


def test_unknown_extension_lists_the_supported_ones(tmp_path: Path) -> None:
    path = tmp_path / "d.xlsx"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(wb.DataError) as e:
        load_dataset(path)
    assert "unsupported file type '.xlsx'" in str(e.value)
    assert all(ext in str(e.value) for ext in SUPPORTED_EXTENSIONS)


def test_no_extension(tmp_path: Path) -> None:
    with pytest.raises(wb.DataError, match=r"unsupported file type '\(no extension\)'"):
        load_dataset(tmp_path / "data")


def test_malformed_jsonl_line_gives_its_number(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"x": 1}\n\n{"x": 2,}\n{"x": 3}\n', encoding="utf-8")
    with pytest.raises(wb.DataError) as e:
        load_dataset(path)
    assert f"'{path}' line 3 is not valid JSON" in str(e.value)
    assert '{"x": 2,}' in str(e.value)


def test_jsonl_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"x": 1}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(wb.DataError, match="line 2 holds a JSON array, not an object"):
        load_dataset(path)


def test_json_that_is_not_records(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    pd.DataFrame({"x": [1, 2]}).to_json(path)  # pandas' default orient: {"x": {"0": 1, ...}}
    with pytest.raises(wb.DataError, match=r"array of row objects.*orient='records'"):
        load_dataset(path)


def test_invalid_json_file(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text('[{"x": 1},\n {"x": }]', encoding="utf-8")
    with pytest.raises(wb.DataError, match="is not valid JSON: Expecting value at line 2"):
        load_dataset(path)


def test_unreadable_parquet_is_a_columns_error(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    path.write_text("not parquet", encoding="utf-8")
    with pytest.raises(wb.DataError, match=f"cannot read '{path}' as parquet"):
        load_dataset(path)


def test_text_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes('{"x": "café"}\n'.encode("latin-1"))
    with pytest.raises(wb.DataError, match=r"cannot read .* as jsonl: UnicodeDecodeError"):
        load_dataset(path)


def test_jsonl_nested_too_deeply_gives_its_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"x": 1}\n{"x": ' + "[" * 100_000 + "]" * 100_000 + "}\n", encoding="utf-8")
    with pytest.raises(wb.DataError) as e:
        load_dataset(path)
    assert str(e.value).startswith(f"'{path}' line 2 is nested too deeply to read")


def test_json_nested_too_deeply(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text('[{"x": ' + "[" * 100_000 + "]" * 100_000 + "}]", encoding="utf-8")
    with pytest.raises(wb.DataError, match=r"is nested too deeply to read .* flatten the deepest values"):
        load_dataset(path)


def test_errors_are_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        load_dataset(tmp_path / "missing.csv")


# --- the shipped datasets --------------------------------------------------------------------------


def test_support_answers_loads() -> None:
    df = load_dataset(DATASETS / "support_answers.jsonl")
    assert 40 <= len(df) <= 60
    assert df.index.name == "id" and df.index[0] == "s001"
    assert {"question", "reference", "response", "model", "latency_ms"} <= set(df.columns)
    assert set(df["model"]) == {"v1", "v2"}
    assert all(isinstance(r, str) for r in df["response"])


def test_summeval_sample_is_the_sample_slice() -> None:
    df = load_dataset(DATASETS / "summeval_sample.jsonl")
    assert len(df) == 160
    assert set(df["suggested_split"]) == {"sample"}
    assert df["doc_id"].nunique() == 10 and df["system_id"].nunique() == 16
    assert df[["coherence", "consistency", "fluency", "relevance"]].stack().between(1, 5).all()
