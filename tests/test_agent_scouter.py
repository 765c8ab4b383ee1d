"""Scouter's tasks files load with ``wb.Suite.from_scouter``: translated to workbench's tasks,
run through ``wb.evaluate`` with Scouter's outcomes, and every construct that cannot be
translated is reported with its line, all at once, before any work."""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import workbench as wb

from .test_agent_shapes import anthropic, gemini, openai_chat

# Written for workbench in Scouter's format: every task type and construct that translates.
TASKS = """\
tasks:
  - task_type: Assertion
    id: adult
    context_path: user.age
    operator: GreaterThanOrEqual
    expected_value: 18
    condition: true
  - task_type: Assertion
    id: email
    context_path: user.email
    operator: IsEmail
    expected_value: true
    depends_on: [adult]
  - task_type: Assertion
    id: short_tags
    context_path: user.tags
    item_context_path: label
    operator: StartsWith
    expected_value: v
  - task_type: AgentAssertion
    id: searched
    context_path: response
    assertion:
      ToolCalled: {name: web_search}
    operator: Equals
    expected_value: true
  - task_type: AgentAssertion
    id: no_delete
    context_path: response
    assertion:
      ToolNotCalled: {name: delete_user}
    operator: Equals
    expected_value: true
  - task_type: AgentAssertion
    id: not_summarised
    context_path: response
    assertion:
      ToolCalled: {name: summarize}
    operator: Equals
    expected_value: false
  - task_type: AgentAssertion
    id: query_nyc
    context_path: response
    assertion:
      ToolCalledWithArgs: {name: web_search, arguments: {query: weather NYC}}
    operator: Equals
    expected_value: true
  - task_type: AgentAssertion
    id: order
    context_path: response
    assertion:
      ToolCallSequence: {names: [web_search, respond]}
    operator: Equals
    expected_value: true
  - task_type: AgentAssertion
    id: few_calls
    context_path: response
    assertion:
      ToolCallCount: {}
    operator: LessThan
    expected_value: 3
  - task_type: AgentAssertion
    id: one_search
    context_path: response
    assertion:
      ToolCallCount: {name: web_search}
    operator: Equals
    expected_value: 1
  - task_type: AgentAssertion
    id: lang
    context_path: response
    assertion:
      ToolArgument: {name: web_search, argument_key: lang}
    operator: Equals
    expected_value: en
  - task_type: AgentAssertion
    id: content
    context_path: response
    assertion:
      ResponseContent: {}
    operator: Contains
    expected_value: Rayleigh
  - task_type: AgentAssertion
    id: model
    context_path: response
    assertion:
      ResponseModel: {}
    operator: Equals
    expected_value: gpt-4o
  - task_type: AgentAssertion
    id: finish
    context_path: response
    assertion:
      ResponseFinishReason: {}
    operator: Equals
    expected_value: tool_calls
  - task_type: AgentAssertion
    id: output_tokens
    context_path: response
    assertion:
      ResponseOutputTokens: {}
    operator: LessThan
    expected_value: 1000
    provider: OpenAI
  - task_type: AgentAssertion
    id: raw_id
    context_path: response
    assertion:
      ResponseField: {path: "choices[0].message.role"}
    operator: Equals
    expected_value: assistant
"""

SEARCH = {"query": "weather NYC", "lang": "en", "limit": 5}


def frame() -> pd.DataFrame:
    """Row 0 passes every task; row 1 fails several (a different model, a wrong search)."""
    good = openai_chat(
        [("web_search", SEARCH), ("respond", {})], "The sky is blue: Rayleigh scattering.", model="gpt-4o"
    )
    bad = openai_chat([("web_search", {"query": "weather LA"}), ("summarize", {}), ("respond", {})], "Sunny.")
    return pd.DataFrame(
        {
            "user": pd.Series(
                [
                    {"age": 30, "email": "ann@example.com", "tags": [{"label": "vip"}]},
                    {"age": 12, "email": "kid@example", "tags": [{"label": "a very long tag"}]},
                ],
                dtype=object,
            ),
            "response": pd.Series([good, bad], dtype=object),
        }
    )


def test_a_scouter_file_loads_and_runs_with_scouters_outcomes() -> None:
    suite = wb.Suite.from_scouter(TASKS)
    assert suite.task("adult").gate and suite.task("email").expected is None
    run = wb.evaluate(frame(), suite, save=False)
    wide = run.results.pivot(index="row", columns="task", values="status")
    assert set(wide.loc[0]) == {"passed"}, wide.loc[0]
    assert wide.loc[1].to_dict() == {
        "adult": "failed",
        "email": "skipped",  # condition: true gates its dependents
        "short_tags": "failed",
        "searched": "passed",
        "no_delete": "passed",
        "not_summarised": "failed",
        "query_nyc": "failed",
        "order": "passed",  # Scouter's sequence is in order, with other calls between
        "few_calls": "failed",
        "one_search": "passed",
        "lang": "error",  # Scouter reads a missing argument as null; the path says what is there
        "content": "failed",
        "model": "failed",
        "finish": "passed",
        "output_tokens": "passed",
        "raw_id": "passed",
    }
    lang = run.results.query("task == 'lang' and row == 1")["error"].iloc[0]
    where = "equals at path 'response.tool_args.web_search.lang': 'response.tool_args.web_search'"
    assert lang == f"{where} has no key 'lang'; its keys are ['query']"


def test_the_translation_reads_as_workbench_tasks() -> None:
    tasks = {t.id: t for t in wb.Suite.from_scouter(TASKS).tasks}
    assert (tasks["not_summarised"].op, tasks["not_summarised"].path) == (
        "tool_not_called",
        "response.tool_calls",
    )
    assert tasks["order"].op == "tool_call_subsequence"
    assert tasks["few_calls"].expected == {"max": 2}
    assert tasks["one_search"].expected == {"name": "web_search", "count": 1}
    assert tasks["lang"].path == "response.tool_args.web_search.lang"
    assert tasks["raw_id"].path == "response.raw.choices[0].message.role"
    assert tasks["short_tags"].item_path == "label"


@pytest.mark.parametrize("provider", [anthropic, gemini])
def test_agent_tasks_read_every_providers_response(provider: Any) -> None:
    suite = wb.Suite.from_scouter(TASKS)
    keep = ["searched", "no_delete", "query_nyc", "order", "one_search", "lang", "content"]
    suite = wb.Suite(name="p", tasks=[suite.task(i) for i in keep])
    value = provider([("web_search", SEARCH), ("respond", {})], "Rayleigh scattering.")
    run = wb.evaluate(pd.DataFrame({"response": pd.Series([value], dtype=object)}), suite, save=False)
    assert set(run.results["status"]) == {"passed"}, run.results[["task", "reason", "error"]]


def test_json_and_a_top_level_list() -> None:
    task = {
        "task_type": "Assertion",
        "id": "n",
        "context_path": "n",
        "operator": "LessThan",
        "expected_value": 1,
    }
    text = json.dumps([task])
    suite = wb.Suite.from_scouter(text, name="mine")
    assert suite.name == "mine" and suite.task("n").op == "less_than"


def test_every_untranslatable_construct_is_reported_with_its_line() -> None:
    text = """\
tasks:
  - task_type: LLMJudge
    id: judge
    context_path: score
    operator: GreaterThan
    expected_value: 3
    prompt: {path: judge.yaml}
  - task_type: Assertion
    id: typo
    context_path: x
    operator: GreaterThen
    expected_value: 3
  - task_type: AgentAssertion
    id: counted
    context_path: response
    assertion:
      ToolCalled: {name: f}
    operator: GreaterThan
    expected_value: 0
  - task_type: Assertion
    id: unary
    context_path: x
    operator: IsEmail
    expected_value: false
  - task_type: TraceAssertion
    id: nested
    operator: Equals
    expected_value: true
    assertion:
      AttributeFilter: {key: a, mode: Any, task: {}}
  - task_type: Assertion
    id: extra
    context_path: x
    operator: Equals
    expected_valeu: 1
  - task_type: HumanValidation
    id: human
  - task_type: AgentAssertion
    id: whole
    assertion: {ResponseContent: {}}
    operator: Contains
    expected_value: x
  - task_type: Assertion
    id: bad id
    context_path: x
    operator: Equals
    expected_value: 1
"""
    with pytest.raises(wb.SpecError) as caught:
        wb.Suite.from_scouter(text)
    problems = caught.value.problems
    assert str(caught.value).startswith("9 problems in these Scouter tasks:")
    assert problems[0].startswith("task 'judge' (line 2): LLMJudge tasks are not translated")
    assert (
        problems[1] == "task 'typo' (line 11): unknown operator 'GreaterThen'; did you mean 'greater_than'?"
    )
    assert problems[2].startswith(
        "task 'counted' (line 18): assertion ToolCalled gives true or false, so its operator must be Equals"
    )
    assert problems[3].startswith(
        "task 'unary' (line 24): operator 'IsEmail' takes no expected_value, and Scouter ignores False"
    )
    assert problems[4].startswith(
        "task 'nested' (line 29): a Scouter AttributeFilterTask is one {Variant: {...}} mapping, got {}"
    )
    assert problems[5].startswith(
        "task 'extra' (line 35): unknown field 'expected_valeu'; did you mean 'expected_value'?"
    )
    assert problems[6].startswith("task 'human' (line 36): task_type 'HumanValidation' is not one of")
    assert problems[7].startswith(
        "task 'whole' (line 40): assertion ResponseContent reads a field of the response"
    )
    # a task that translates but is invalid as a workbench task is in the same list, with its line
    assert problems[8].startswith("task 'bad id' (line 43) id: task id 'bad id' must start with a letter")


def test_skipping_untranslatable_tasks_warns_and_drops_their_dependents() -> None:
    text = """\
- task_type: LLMJudge
  id: judge
  operator: Equals
  expected_value: 1
  prompt: {path: judge.yaml}
- task_type: Assertion
  id: after_judge
  context_path: x
  operator: Equals
  expected_value: 1
  depends_on: [judge]
- task_type: Assertion
  id: kept
  context_path: x
  operator: Equals
  expected_value: 1
"""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        suite = wb.Suite.from_scouter(text, skip_untranslatable=True)
    assert suite.task_ids == ["kept"]
    (w,) = caught
    assert issubclass(w.category, wb.SpecWarning)
    assert "1 Scouter task could not be translated and was skipped" in str(w.message)
    assert "skipped too, as they depend on a skipped task: ['after_judge']" in str(w.message)
    assert w.filename == __file__  # attributed to the caller


def test_trace_assertions_translate_to_trace_operators_by_name() -> None:
    text = """\
- task_type: TraceAssertion
  id: retries
  operator: LessThanOrEqual
  expected_value: 3
  assertion:
    SpanCount:
      filter:
        And:
          filters:
            - ByName: {name: retry_operation}
            - WithStatus: {status: Error}
"""
    from workbench.assertions import OPERATORS

    if "span_count" in OPERATORS:  # the trace operators exist: the task translates to their shape
        task = wb.Suite.from_scouter(text).task("retries")
        assert (task.op, task.path) == ("span_count", "trace")
        assert task.expected == {
            "filter": {"and": [{"name": "retry_operation"}, {"status": "error"}]},
            "less_than_or_equal": 3,
        }
    else:  # not yet: reported as untranslatable, with the line of the assertion
        with pytest.raises(wb.SpecError) as caught:
            wb.Suite.from_scouter(text)
        (problem,) = caught.value.problems
        assert problem == (
            "task 'retries' (line 5): TraceAssertion SpanCount translates to the trace operator "
            "'span_count', which this workbench does not have"
        )
    misspelt = text.replace("SpanCount:", "SpanCont:")
    with pytest.raises(wb.SpecError) as caught:
        wb.Suite.from_scouter(misspelt)
    (problem,) = caught.value.problems
    assert "'SpanCont' has no workbench counterpart" in problem
    assert "did you mean 'SpanCount'?" in problem


# --- Scouter's own test assets, read from a local snapshot of its repository --------------------

SCOUTER = os.environ.get("SCOUTER_REPO", "/work/.mirror/demml+scouter/repo")
"""A git directory (or a checkout) of github.com/demml/scouter: its files are not copied into
workbench, so these tests read them from there and skip where there is none."""


def scouter_asset(path: str, tmp_path: Path) -> Path:
    git = ["git", f"--git-dir={SCOUTER}"] if not (Path(SCOUTER) / ".git").exists() else ["git", "-C", SCOUTER]
    try:
        text = subprocess.run(
            [*git, "show", f"HEAD:{path}"], capture_output=True, check=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"no snapshot of Scouter's repository at {SCOUTER} (set SCOUTER_REPO)")
    out = tmp_path / Path(path).name
    out.write_text(text, encoding="utf-8")
    return out


def test_scouters_json_tasks_asset_loads_and_runs(tmp_path: Path) -> None:
    path = scouter_asset("py-scouter/tests/test_eval/assets/eval_tasks_example.json", tmp_path)
    suite = wb.Suite.from_scouter(path)
    assert suite.name == "eval_tasks_example" and suite.task_ids == [
        "validate_email",
        "check_password_strength",
    ]
    users = pd.DataFrame(
        {
            "user": pd.Series(
                [
                    {"email": "ann@example.com", "password": "correct horse"},
                    {"email": "ann", "password": "pw"},
                ]
            )
        }
    )
    run = wb.evaluate(users, suite, save=False)
    assert run.results.pivot(index="row", columns="task", values="status").to_dict("index") == {
        0: {"check_password_strength": "passed", "validate_email": "passed"},
        1: {"check_password_strength": "failed", "validate_email": "failed"},
    }


def test_scouters_yaml_tasks_asset_fails_fast_with_the_lines(tmp_path: Path) -> None:
    from workbench.assertions import OPERATORS

    path = scouter_asset("py-scouter/tests/test_eval/assets/eval_tasks_example.yaml", tmp_path)
    with pytest.raises(wb.SpecError) as caught:
        wb.Suite.from_scouter(path)
    problems = caught.value.problems
    assert problems[0].startswith("task 'sentiment_judge' (line 57): LLMJudge tasks are not translated")
    traces = {
        "verify_agent_workflow": ("span_sequence", 78),
        "verify_retry_count": ("span_count", 93),
        "verify_performance": ("trace_duration", 107),
        "verify_model_used": ("span_attribute", 119),
        "verify_error_handling": ("span_exists", 134),
        "verify_span_duration": ("span_duration", 152),
    }
    for task, (op, line) in traces.items():
        reported = [p for p in problems if p.startswith(f"task '{task}' (line {line}): ")]
        assert bool(reported) == (op not in OPERATORS), (task, problems)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wb.SpecWarning)
        rest = wb.Suite.from_scouter(path, skip_untranslatable=True)
    assert {"check_user_age", "validate_email", "final_validation"} <= set(rest.task_ids)
    assert rest.task("final_validation").gate


def test_a_key_written_twice_with_different_values_is_reported() -> None:
    text = """\
- task_type: Assertion
  id: twice
  context_path: latency
  operator: LessThan
  expected_value: 100
  expected_value: 200
- task_type: Assertion
  id: same
  context_path: latency
  operator: LessThan
  expected_value: 100
  expected_value: 100
"""
    with pytest.raises(wb.SpecError) as caught:
        wb.Suite.from_scouter(text)
    (problem,) = caught.value.problems
    assert problem == (
        "task 'twice' (line 6): 'expected_value' is written twice, with different values (lines 5 and 6), "
        "and which one is meant is not clear: keep one"
    )
