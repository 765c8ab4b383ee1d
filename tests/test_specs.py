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
    assert msg.startswith("7 problems in suite 's' version 'v2':")
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


def test_a_task_alone_keeps_its_problems_and_its_suite_raises_them_with_the_fix() -> None:
    task = wb.AssertionTask(id="t", path="x", op="approximately_equals", expected=3)
    [problem] = task.problems
    assert problem.startswith("task 't': operator 'approximately_equals' needs [value, tolerance")
    assert "problems=" in repr(task)  # a notebook shows what is wrong with it
    with pytest.raises(wb.SpecError) as e:
        wb.Suite(name="s", tasks=[task])
    assert e.value.problems == task.problems
    assert str(e.value) == f"1 problem in suite 's':\n  - {task.problems[0]}"


def test_a_valid_task_has_no_problems() -> None:
    task = wb.AssertionTask(id="t", path="x", op="gte", expected=3)
    assert task.problems == [] and "problems" not in repr(task)


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
    assert ok.mode == "joint" and ok.scale == (1, 5) and ok.problems == []
    bad = wb.JudgeTask(
        id="q",
        prompt="x",
        criteria=[
            {"name": "a", "description": "d"},
            {"name": "a", "description": "d"},
        ],
        threshold=9,
    )
    assert bad.problems == [
        "task 'q': criterion names must be unique; repeated: ['a']",
        "task 'q': threshold 9 is outside the scale 1..5",
    ]


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
        "name: s\ntasks:\n  - id: a\n    path: x\n    op: is_json\n"
        "  - id: b\n    path: x\n    op: gretaer_than\n    expected: 1\n"
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


# --- every problem at once, from task objects as from dicts and YAML -----------------------------

BROKEN = [
    _task(id="a", op="equalz"),
    _task(id="b", depends_on=["missing"]),
    _task(id="b", depends_on=["a"]),
    _task(id="c", depends_on=["b", "a"]),
]
"""A bad operator, and an unknown dependency of a task whose id is used again (the second
task's dependencies used to replace the first's, so this one went unreported)."""

BROKEN_PROBLEMS = [
    "task 'a': unknown operator 'equalz'; did you mean 'equals'?",
    "task 'b': depends_on names 'missing', which is not a task in this suite; tasks are ['a', 'b', 'c']",
    "task id 'b' is used more than once; ids must be unique",
]


def test_a_suite_of_task_objects_reports_every_problem_at_once() -> None:
    with pytest.raises(wb.SpecError) as e:
        wb.Suite(name="s", tasks=[wb.AssertionTask(**t) for t in BROKEN])
    assert e.value.problems == BROKEN_PROBLEMS
    assert str(e.value).startswith("3 problems in suite 's':\n  - task 'a': unknown operator")


def test_a_suite_of_dicts_reports_the_same_problems() -> None:
    with pytest.raises(wb.SpecError) as e:
        wb.Suite(name="s", tasks=BROKEN)
    assert e.value.problems == BROKEN_PROBLEMS


def test_objects_and_dicts_can_be_mixed() -> None:
    with pytest.raises(wb.SpecError) as e:
        wb.Suite(name="s", tasks=[wb.AssertionTask(**BROKEN[0]), *BROKEN[1:]])
    assert e.value.problems == BROKEN_PROBLEMS


def test_a_criterion_object_problem_is_named_by_its_task() -> None:
    judge = wb.JudgeTask(
        id="q",
        prompt="${answer}",
        criteria=[
            wb.Criterion(name="tone", description="Polite.", scale=["rude", "polite"], threshold="kind"),
            wb.Criterion(name="facts"),  # type: ignore[call-arg]
        ],
    )
    with pytest.raises(wb.SpecError) as e:
        wb.Suite(name="s", tasks=[judge, _task(id="b", op="is_jsn")])
    assert e.value.problems == [
        "task 'q': criterion 'tone': threshold 'kind' is not one of the labels ['rude', 'polite']",
        "task 'q': criterion 'facts': missing required field 'description'",
        "task 'b': unknown operator 'is_jsn'; did you mean 'is_json'?",
    ]


def test_problems_are_listed_in_the_order_of_the_tasks() -> None:
    with pytest.raises(wb.SpecError) as e:
        wb.Suite(
            name="s",
            tasks=[
                _task(id="a", depends_on=["zz"]),
                wb.AssertionTask(id="b", path="x", op="is_jsn"),
                _task(id="c", op="gtx"),
            ],
        )
    assert [p.split(":")[0] for p in e.value.problems] == ["task 'a'", "task 'b'", "task 'c'"]


def test_yaml_lines_point_at_the_task_with_the_problem_when_ids_repeat() -> None:
    text = (
        "name: s\n"
        "tasks:\n"
        "  - {id: a, path: x, op: is_json}\n"  # line 3
        "  - {id: b, path: x, op: is_json}\n"  # line 4
        "  - {id: b, path: x, op: equalz, depends_on: [missing]}\n"  # line 5
        "  - {id: c, path: x, op: is_json, depends_on: [b]}\n"
    )
    with pytest.raises(wb.SpecError) as e:
        wb.Suite.from_yaml(text)
    assert e.value.problems == [
        "task 'b' (line 5): unknown operator 'equalz'; did you mean 'equals'?",
        "task id 'b' (line 5) is used more than once; ids must be unique (first at line 4)",
        (
            "task 'b' (line 5): depends_on names 'missing', which is not a task in this suite; "
            "tasks are ['a', 'b', 'c']"
        ),
    ]


def test_yaml_cycles_name_the_lines_of_their_tasks() -> None:
    text = (
        "name: s\ntasks:\n"
        "  - {id: e, op: is_json, depends_on: [f]}\n"  # line 3
        "  - {id: f, op: is_json, depends_on: [e]}\n"
    )
    with pytest.raises(wb.SpecError, match=r"cycle in depends_on: e \(line 3\) -> f \(line 4\) -> e \(read"):
        wb.Suite.from_yaml(text)


def test_a_task_without_an_id_is_named_by_its_place() -> None:
    with pytest.raises(wb.SpecError) as e:
        wb.Suite(name="s", tasks=[_task(id="a"), wb.AssertionTask(path="x", op="is_json")])  # type: ignore[call-arg]
    assert e.value.problems == ["task #2: missing required field 'id'"]


def test_a_long_dependency_chain_is_checked_without_recursion() -> None:
    n = 3000  # deeper than Python's recursion limit
    tasks = [_task(id=f"t{i}", depends_on=[f"t{i + 1}"] if i + 1 < n else ["t0"]) for i in range(n)]
    with pytest.raises(wb.SpecError) as e:
        wb.Suite(name="s", tasks=tasks)
    assert e.value.problems[0].startswith("cycle in depends_on: t0 -> t1 -> t2")


def test_model_copy_checks_the_edit() -> None:
    suite = wb.Suite(name="s", tasks=[_task(id="a")])
    assert suite.model_copy(update={"version": "v2"}).version == "v2"
    with pytest.raises(wb.SpecError, match="task id 'a' is used more than once"):
        suite.model_copy(update={"tasks": [*suite.tasks, *suite.tasks]})
    edited = suite.tasks[0].model_copy(update={"op": "equalz"})
    assert edited.problems == ["task 'a': unknown operator 'equalz'; did you mean 'equals'?"]
    with pytest.raises(wb.SpecError, match="unknown operator 'equalz'"):
        suite.model_copy(update={"tasks": [edited]})


def test_an_invalid_task_reaches_no_evaluation() -> None:
    import pandas as pd

    bad = wb.AssertionTask(id="a", path="x", op="equalz")
    with pytest.raises(wb.SpecError, match="unknown operator 'equalz'"):
        wb.evaluate(pd.DataFrame({"x": [1]}), wb.Suite(name="s", tasks=[bad]))


# --- Scouter's expected_value: true on unary operators --------------------------------------------


def test_a_unary_operator_accepts_expected_true_with_a_warning() -> None:
    with pytest.warns(wb.SpecWarning) as caught:
        task = wb.AssertionTask(id="mail", path="x", op="IsEmail", expected=True)
    assert task.expected is None and task.problems == []
    assert str(caught[0].message) == (
        "task 'mail': operator 'is_email' takes no expected value, so expected=True is ignored "
        "(Scouter's suites write expected_value: true for unary operators); remove 'expected' to "
        "silence this warning"
    )
    assert caught[0].filename == __file__  # points at the line that built the task


def test_a_ported_suite_loads_and_runs_like_one_without_expected() -> None:
    import pandas as pd

    text = (
        "name: ported\n"
        "tasks:\n"
        "  - {id: mail, path: x, op: IsEmail, expected: true}\n"  # line 3
        "  - {id: not_empty, path: x, op: NotIsEmpty, expected: true}\n"  # line 4
        "  - {id: same, path: flag, op: Equals, expected: true}\n"  # True is what 'equals' checks
    )
    with pytest.warns(wb.SpecWarning) as caught:
        suite = wb.Suite.from_yaml(text)
    assert [str(w.message).split(":")[0] for w in caught] == [
        "task 'mail' (line 3)",
        "task 'not_empty' (line 4)",
    ]
    assert [t.expected for t in suite.tasks] == [None, None, True]
    df = pd.DataFrame({"x": ["a@b.org", ""], "flag": [True, False]})
    statuses = wb.evaluate(df, suite).results["status"].astype(str).tolist()
    assert statuses == ["passed", "failed", "passed", "failed", "passed", "failed"]


def test_other_expected_values_on_a_unary_operator_are_still_problems() -> None:
    assert wb.AssertionTask(id="t", path="x", op="is_email", expected=5).problems == [
        "task 't': operator 'is_email' takes no expected value, got 5; remove 'expected'"
    ]


# --- looking a task up ----------------------------------------------------------------------------


def test_an_unknown_task_is_an_unknown_task_error_with_the_closest_id() -> None:
    suite = wb.Suite(name="s", tasks=[_task(id="quality"), _task(id="short")])
    with pytest.raises(wb.UnknownTaskError) as e:
        suite.task("qualty")
    assert (
        str(e.value)
        == "no task 'qualty' in suite 's'; did you mean 'quality'? Its tasks are ['quality', 'short']."
    )
    assert isinstance(e.value, wb.WorkbenchError)
    with pytest.raises(KeyError):  # callers that caught KeyError keep working
        suite.task("nothing")
    with pytest.raises(
        wb.UnknownTaskError, match=r"^no task 'zzz' in suite 's'; its tasks are \['quality', 'short'\]$"
    ):
        suite.task("zzz")
