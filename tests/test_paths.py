import numpy as np
import pytest

from workbench.paths import (
    PathError,
    format_path,
    parse_path,
    render,
    resolve,
    substitute,
    template_paths,
    to_plain,
)


@pytest.mark.parametrize(
    ("path", "segments"),
    [
        ("a", ("a",)),
        ("a.b.0.c", ("a", "b", "0", "c")),
        ("a.b[0].c", ("a", "b", 0, "c")),
        ("a[0][1]", ("a", 0, 1)),
        ('a["x.y"].z', ("a", "x.y", "z")),
        ("a['q'][-1]", ("a", "q", -1)),
        ("résumé.naïve", ("résumé", "naïve")),
    ],
)
def test_parse_path(path: str, segments: tuple) -> None:
    assert parse_path(path) == segments


@pytest.mark.parametrize("bad", ["", "a..b", "a.", ".a", "a[", "a[x]", "a]b"])
def test_parse_path_rejects_malformed(bad: str) -> None:
    with pytest.raises(PathError):
        parse_path(bad)


def test_format_path_round_trips() -> None:
    for p in ["a.b[0].c", 'a["x.y"]', "a[-1]"]:
        assert parse_path(format_path(parse_path(p))) == parse_path(p)


def test_dot_and_bracket_indexes_address_the_same_item() -> None:
    value = {"choices": [{"message": {"content": "hi"}}, {"message": {"content": "yo"}}]}
    assert resolve(value, parse_path("choices.1.message.content")) == "yo"
    assert resolve(value, parse_path("choices[1].message.content")) == "yo"
    assert resolve(value, parse_path("choices[-1].message.content")) == "yo"


def test_json_strings_are_parsed_when_descended_into() -> None:
    value = {"r": '{"answer": {"text": "[1, 2]"}}'}
    assert resolve(value, parse_path("r.answer.text.1")) == 2
    # not descended into: stays a string
    assert resolve(value, parse_path("r.answer.text")) == "[1, 2]"


@pytest.mark.parametrize(
    ("value", "path", "message"),
    [
        ({"a": {"b": 1}}, "a.c", "'a' has no key 'c'; its keys are ['b']"),
        ({"a": {"answr": 1}}, "a.answer", "did you mean 'answr'"),
        ({"a": [1, 2]}, "a.5", "index 5 is out of range at 'a', an array of 2 items"),
        ({"a": [1, 2]}, "a.x", "'a' is an array of 2 items, so 'x' cannot index it"),
        ({"a": 12}, "a.b", "'a' is number (12), so it has no 'b'"),
        ({"a": "{oops"}, "a.b", "'a' holds a string that is not valid JSON"),
    ],
)
def test_resolve_explains_failures(value: object, path: str, message: str) -> None:
    with pytest.raises(PathError) as e:
        resolve(value, parse_path(path))
    assert message in str(e.value)


def test_to_plain() -> None:
    assert to_plain(np.int64(3)) == 3 and type(to_plain(np.int64(3))) is int
    assert to_plain(float("nan")) is None
    assert to_plain(np.array([1.5, 2.0])) == [1.5, 2.0]
    assert to_plain(np.bool_(True)) is True


def test_templates_substitute_anywhere_and_render_non_strings_as_json() -> None:
    ctx = {"q": "why?", "n": 3, "tags": ["a", "b"], "meta": {"k": None}}
    assert (
        render("Q: ${q} (n=${n}) tags=${tags} ${meta}", ctx.__getitem__)
        == 'Q: why? (n=3) tags=["a","b"] {"k":null}'
    )
    assert substitute("${n}", ctx.__getitem__) == 3  # a whole-value template keeps the type
    assert substitute({"x": ["${q}", "n=${ n }"]}, ctx.__getitem__) == {"x": ["why?", "n=3"]}
    assert template_paths(["${a.b[0]}", {"k": "x ${c} ${d}"}]) == ["a.b[0]", "c", "d"]


def test_templates_are_substituted_never_evaluated() -> None:
    ctx = {"x": "${y}", "y": "secret"}
    # text produced by a substitution is not scanned again
    assert render("${x}", ctx.__getitem__) == "${y}"
    assert render("${__import__('os')}", lambda p: f"<{p}>") == "<__import__('os')>"
