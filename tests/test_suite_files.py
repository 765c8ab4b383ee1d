"""Reading suite files that are hostile or odd: YAML alias bombs, recursive aliases, nesting
too deep for the parser. Each is refused quickly with the line and a fix; aliases of a
sensible size keep working."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import workbench as wb
from workbench.specs import ALIAS_BUDGET


def alias_bomb(levels: int = 8, fan: int = 9) -> str:
    """A suite whose last task's ``expected`` stands for ``fan ** levels`` values, written in
    well under a kilobyte: each level is a list of ``fan`` aliases of the level before."""
    lines = ["name: bomb", "tasks:", "  - {id: t, path: x, op: is_json}", "  - id: u", "    path: x"]
    lines += ["    op: equals", "    expected:"]
    lines.append("      - &a0 [x" + ", x" * (fan - 1) + "]")
    for level in range(1, levels):
        lines.append(f"      - &a{level} [" + ", ".join([f"*a{level - 1}"] * fan) + "]")
    return "\n".join(lines) + "\n"


def test_the_bomb_is_small() -> None:
    assert len(alias_bomb().encode()) < 600


def test_an_alias_bomb_is_refused_quickly_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(), encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(wb.SpecError) as e:
        wb.Suite.from_yaml(path)
    assert time.perf_counter() - start < 5  # it spun for minutes before aliases were bounded
    msg = str(e.value)
    assert msg.startswith(f"file '{path}' is refused: its YAML aliases make its ")
    assert f"more than the {ALIAS_BUDGET:,} that aliases may add" in msg
    size = 10  # the values '*a0' stands for: its list and 9 strings
    for _ in range(6):
        size = 1 + 9 * size
    assert f"the alias '*a6' at line 15 alone stands for {size:,})" in msg
    assert "write the repeated parts out" in msg


def test_an_alias_bomb_given_as_text_or_to_evaluate_is_refused(tmp_path: Path) -> None:
    import pandas as pd

    with pytest.raises(wb.SpecError, match=r"^the text is refused: its YAML aliases"):
        wb.Suite.from_yaml(alias_bomb())
    path = tmp_path / "bomb.yml"
    path.write_text(alias_bomb(), encoding="utf-8")
    with pytest.raises(wb.SpecError, match="alias bomb"):
        wb.evaluate(pd.DataFrame({"x": ["{}"]}), str(path))


def test_a_merge_key_bomb_is_refused() -> None:
    lines = ["name: s", "tasks:", "  - {id: t, path: x, op: is_json}", "defs:", "  - &m0 {k0: 1, j0: 2}"]
    for level in range(1, 24):  # each mapping merges the one before twice
        lines.append(f"  - &m{level} {{<<: [*m{level - 1}, *m{level - 1}], k{level}: 1}}")
    with pytest.raises(wb.SpecError, match=r"is refused: its YAML aliases .*the alias '\*m22' at line 28"):
        wb.Suite.from_yaml("\n".join(lines) + "\n")


def test_a_recursive_alias_is_refused_with_its_line() -> None:
    text = "name: s\ntasks:\n  - id: t\n    path: x\n    op: equals\n    expected: &loop [1, *loop]\n"
    with pytest.raises(wb.SpecError) as e:
        wb.Suite.from_yaml(text)
    assert str(e.value) == (
        "the text cannot be read: the alias '*loop' at line 6, column 25 stands for a value that contains "
        "it, so it never ends; write that value out instead of '*loop'"
    )


def test_aliases_of_a_sensible_size_still_work() -> None:
    criteria = "".join(f"      - {{name: c{i}, description: 'Criterion {i}.'}}\n" for i in range(20))
    text = (
        "name: shared\n"
        "tasks:\n"
        "  - &judge\n"
        "    id: q0\n"
        "    prompt: 'Answer: ${answer}'\n"
        "    threshold: 4\n"
        "    criteria:\n" + criteria
    )
    text += "".join(f"  - {{<<: *judge, id: q{i}}}\n" for i in range(1, 200))
    suite = wb.Suite.from_yaml(text)
    assert suite.task_ids == [f"q{i}" for i in range(200)]
    assert all(len(t.criteria) == 20 and t.threshold == 4 for t in suite.tasks)  # type: ignore[union-attr]


def test_yaml_nested_too_deeply_is_a_spec_error() -> None:
    text = "name: s\ntasks:\n  - {id: t, path: x, op: equals, expected: " + "[" * 5000 + "]" * 5000 + "}\n"
    with pytest.raises(wb.SpecError, match=r"^the text is nested too deeply to read as YAML .* flatten"):
        wb.Suite.from_yaml(text)


def test_json_nested_too_deeply_is_a_spec_error() -> None:
    text = '{"name": "s", "tasks": [{"id": "t", "op": "equals", "expected": ' + "[" * 100_000
    text += "]" * 100_000 + "}]}"
    with pytest.raises(wb.SpecError, match=r"^the text is nested too deeply to read as JSON"):
        wb.Suite.from_json(text)


def test_an_expected_value_nested_too_deeply_is_a_task_problem() -> None:
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    task = wb.AssertionTask(id="t", path="x", op="equals", expected=deep)
    assert task.problems == [
        (
            "task 't': expected is nested too deeply to check (lists or mappings inside one another "
            "hundreds of levels deep); flatten it"
        )
    ]
