from pathlib import Path

import pytest

import workbench as wb


def _task(**kw: object) -> dict:
    return {"id": "t", "path": "x", "op": "equals", "expected": 1, **kw}


def test_operator_names_are_canonicalised() -> None:
    assert wb.AssertionTask(id="a", path="x", op="gte", expected=1).op == "greater_than_or_equal"
    assert wb.AssertionTask(id="a", path="x", op="StartsWith", expected="x").op == "starts_with"
    assert wb.AssertionTask(id="a", path="x", op="not_contains", expected="x").op == "not_contains"
    assert wb.AssertionTask(id="a", path="x", op="NotIsEmail").op == "not_is_email"


def test_every_problem_is_reported_in_one_error() -> None:
    with pytest.raises(wb.SpecError) as e:
        wb.Suite(
            name="s",
            version="v2",
            tasks=[
                _task(id="a", op="equalz"),
                _task(id="b", op="in_range", expected={"min": 1, "max": 2}),
                _task(id="c", op="matches", expected="(unclosed"),
                _task(id="c"),
                _task(id="d", depends_on=["is_jsn", "a"]),
                _task(id="e", depends_on=["f"]),
                _task(id="f", depends_on=["e"]),
                _task(id="g", expectd=3),
            ],
        )
    msg = str(e.value)
    assert msg.startswith("7 problems in suite 's' v2:")
    assert "task 'a': unknown operator 'equalz'; did you mean 'equals'" in msg
    assert "task 'b': operator 'in_range'" in msg and "[min, max]" in msg
    assert "task 'c': operator 'matches'" in msg
    assert "task id 'c' is used more than once" in msg
    assert "task 'd': depends_on names 'is_jsn', which is not a task in this suite" in msg
    assert "cycle in depends_on: e -> f -> e" in msg
    assert "task 'g': unknown field 'expectd'; did you mean 'expected'" in msg
    assert len(e.value.problems) == 7


def test_unknown_dependency_is_not_called_a_cycle() -> None:
    with pytest.raises(wb.SpecError) as e:
        wb.Suite(name="s", tasks=[_task(id="a", depends_on=["missing"])])
    assert "cycle" not in str(e.value)
    assert "'missing'" in str(e.value)


def test_a_task_alone_raises_spec_error_with_the_fix() -> None:
    with pytest.raises(wb.SpecError) as e:
        wb.AssertionTask(id="t", path="x", op="approximately_equals", expected=3)
    assert "task 't'" in str(e.value)


def test_templated_expected_is_checked_per_row_not_at_build_time() -> None:
    t = wb.AssertionTask(id="t", path="x", op="greater_than", expected="${limit}")
    assert t.expected == "${limit}"


def test_judge_task_spec_validation() -> None:
    ok = wb.JudgeTask(
        id="q",
        prompt="Answer: ${answer}",
        criteria=[
            wb.Criterion(name="accuracy", description="Facts are right."),
            wb.Criterion(
                name="tone", description="Polite.", scale=["rude", "neutral", "polite"], threshold="neutral"
            ),
        ],
        threshold=4,
    )
    assert ok.mode == "joint" and ok.scale == (1, 5)
    with pytest.raises(wb.SpecError) as e:
        wb.JudgeTask(
            id="q",
            prompt="x",
            criteria=[
                {"name": "a", "description": "d"},
                {"name": "a", "description": "d"},
            ],
            threshold=9,
        )
    assert "criterion names must be unique" in str(e.value)
    assert "threshold 9 is outside the scale 1..5" in str(e.value)


def test_yaml_and_json_round_trip_and_fingerprint_is_stable() -> None:
    suite = wb.Suite(
        name="s",
        version="v1",
        tasks=[
            wb.AssertionTask(id="j", path="response", op="is_json", gate=True),
            wb.AssertionTask(id="short", path="response.answer", op="lt", expected=5, depends_on=["j"]),
            wb.JudgeTask(
                id="q",
                prompt="Q: ${question}",
                criteria=[wb.Criterion(name="acc", description="ok")],
                scale=(1, 10),
                mode="per_criterion",
                depends_on=["j"],
            ),
        ],
    )
    assert wb.Suite.from_yaml(suite.to_yaml()) == suite
    assert wb.Suite.from_json(suite.to_json()) == suite
    assert wb.Suite.from_yaml(suite.to_yaml()).fingerprint() == suite.fingerprint()
    renamed = suite.model_copy(update={"version": "v2"})
    assert renamed.fingerprint() == suite.fingerprint()  # content, not labels
    edited = wb.Suite(
        name="s",
        version="v1",
        tasks=[
            *suite.tasks[:1],
            wb.AssertionTask(id="short", path="response.answer", op="lt", expected=6, depends_on=["j"]),
            suite.tasks[2],
        ],
    )
    assert edited.fingerprint() != suite.fingerprint()


def test_yaml_kind_is_inferred() -> None:
    suite = wb.Suite.from_yaml(
        "name: s\ntasks:\n  - {id: a, path: x, op: is_json}\n"
        "  - {id: q, prompt: 'hi', criteria: [{name: c, description: d}]}\n"
    )
    assert [t.kind for t in suite.tasks] == ["assertion", "judge"]


def test_yaml_syntax_error_has_a_line_number() -> None:
    with pytest.raises(wb.SpecError, match=r"not valid YAML at line 5.*started at line 4"):
        wb.Suite.from_yaml("name: s\ntasks:\n  - id: a\n    op: [gt\n")


def test_yaml_spec_problems_name_the_line_of_the_task(tmp_path: Path) -> None:
    f = tmp_path / "suite.yaml"
    f.write_text(
        "name: s\ntasks:\n  - id: a\n    path: x\n    op: is_json\n  - id: b\n    path: x\n    op: gretaer_than\n    expected: 1\n"
    )
    with pytest.raises(wb.SpecError) as e:
        wb.Suite.from_yaml(f)
    assert "task 'b' (line 6): unknown operator 'gretaer_than'; did you mean 'greater_than'" in str(e.value)
    with pytest.raises(wb.SpecError) as e:
        wb.Suite.from_yaml(str(f))
    assert "line 6" in str(e.value)


def test_missing_file_and_wrong_shape() -> None:
    with pytest.raises(wb.SpecError, match="does not exist"):
        wb.Suite.from_yaml("no_such_suite.yaml")
    with pytest.raises(wb.SpecError, match="must hold a mapping"):
        wb.Suite.from_yaml("- a\n- b\n")
    with pytest.raises(wb.SpecError, match=r"not valid JSON: .* line 1"):
        wb.Suite.from_json('{"name": "s", "tasks": [}')


def test_stages_follow_dependencies() -> None:
    suite = wb.Suite(
        name="s",
        tasks=[
            _task(id="c", depends_on=["b"]),
            _task(id="a"),
            _task(id="b", depends_on=["a"]),
        ],
    )
    assert [[t.id for t in st] for st in suite.stages()] == [["a"], ["b"], ["c"]]


def test_specs_are_immutable() -> None:
    t = wb.AssertionTask(id="a", path="x", op="is_json")
    with pytest.raises(Exception):
        t.op = "equals"  # type: ignore[misc]
