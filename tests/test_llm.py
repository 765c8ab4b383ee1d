"""The call layer's cache: keys, storage, bulk reads."""

from __future__ import annotations

from pathlib import Path

from workbench import llm as L


def test_cache_key_ignores_transport_and_credentials_but_not_content() -> None:
    msgs = [{"role": "system", "content": "judge"}, {"role": "user", "content": "answer"}]
    base = L.cache_key("openai/m", msgs, {"temperature": 0})
    assert base == L.cache_key(
        "openai/m",
        msgs,
        {"temperature": 0, "api_key": "sk-x", "api_base": "http://h", "headers": {"a": "b"}, "timeout": 3},
    )
    assert base != L.cache_key("openai/m", msgs, {"temperature": 0.5})
    assert base != L.cache_key("openai/other", msgs, {"temperature": 0})
    assert base != L.cache_key("openai/m", msgs, {"temperature": 0}, {"type": "json_object"})
    assert base != L.cache_key(
        "openai/m", [msgs[0], {"role": "user", "content": "answer!"}], {"temperature": 0}
    )
    # the same content in new objects gives the same key (identity memo is only a shortcut)
    assert base == L.cache_key("openai/m", [dict(m) for m in msgs], {"temperature": 0})


def test_bulk_prefetch_reads_what_single_gets_read(tmp_path: Path) -> None:
    writer = L.LLM("openai/m", cache_dir=tmp_path)
    keys = [f"k{i}" for i in range(1200)]
    for i, k in enumerate(keys):
        writer._store(
            k, L.Completion(text=f"verdict {i}", prompt_tokens=i, completion_tokens=1, cost_usd=None)
        )
    writer.close()
    L.forget_in_process()  # as in a fresh process
    reader = L.LLM("openai/m", cache_dir=tmp_path)
    reader.prefetch([*keys, "absent"])
    assert all(reader._cache.known(k) for k in keys)
    assert not reader._cache.known("absent")
    for i in (0, 599, 1199):
        hit = reader.cached(keys[i])
        assert hit is not None and hit.cached and hit.text == f"verdict {i}" and hit.prompt_tokens == i
        assert reader._cache.get(keys[i])["text"] == hit.text
    assert reader.cached("absent") is None
    refreshing = L.LLM("openai/m", cache_dir=tmp_path, refresh=True)
    assert refreshing.cached(keys[0]) is None


def test_a_message_changed_in_place_gets_a_new_key() -> None:
    system = {"role": "system", "content": "judge accuracy"}
    schema = {"type": "json_schema", "json_schema": {"name": "v", "schema": {"type": "object"}}}
    before = L.cache_key("openai/m", [system], {}, schema)
    system["content"] = "judge tone"
    after_msg = L.cache_key("openai/m", [system], {}, schema)
    schema["json_schema"]["name"] = "w"
    after_schema = L.cache_key("openai/m", [system], {}, schema)
    assert len({before, after_msg, after_schema}) == 3


def test_batch_keys_equal_single_keys_and_share_nothing_across_calls() -> None:
    system = {"role": "system", "content": "judge accuracy"}
    other_system = {"role": "system", "content": "judge tone"}
    schema = {"type": "json_schema", "json_schema": {"name": "v", "schema": {"type": "object"}}}
    requests = [([system, {"role": "user", "content": f"answer {i}"}], schema) for i in range(3)] + [
        ([other_system, {"role": "user", "content": "answer 0"}], schema),
        ([{"role": "user", "content": "no system message"}], None),
        (
            [{"role": "system", "content": "judge accuracy", "name": "x"}, {"role": "user", "content": "a"}],
            schema,
        ),
        ([], schema),
    ]
    params = {"temperature": 0, "api_key": "sk-never"}
    expected = [L.cache_key("openai/m", m, params, rf) for m, rf in requests]
    assert L.cache_keys("openai/m", requests, params) == expected
    assert len(set(expected)) == len(expected)
    system["content"] = "judge accuracy, edited"  # changed in place between two batches
    schema["json_schema"]["name"] = "w"
    again = L.cache_keys("openai/m", requests, params)
    assert again == [L.cache_key("openai/m", m, params, rf) for m, rf in requests]
    assert again[0] != expected[0] and again[3] != expected[3]
