"""Spans survive pre-fork servers, and OTel's attribute limits never drop Plaudit's key attributes."""

from __future__ import annotations

import os
import sys
from typing import Any

import httpx
import pytest

import plaudit

KEY_ATTRIBUTES = {"model", "prompt_name", "prompt_version", "config_hash", "variant", "user_id", "session_id"}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_forked_child_exports_its_own_spans(sdk: Any, http: httpx.Client) -> None:
    @plaudit.trace(variant="forked")
    def work(i: int) -> int:
        return i

    work(-1)  # the parent's pipeline is running before the fork, as in a pre-fork server
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:  # the child: trace, flush, leave without running the parent's atexit hooks
        code = 1
        try:
            for i in range(25):
                work(i)
            code = 0 if plaudit.flush(20) else 2
        finally:
            os._exit(code)
    for i in range(25):
        work(100 + i)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert plaudit.flush(20)
    traces = http.get("/v1/traces", params={"limit": 500}).json()
    assert len(traces["traces"]) == 51  # 1 before the fork, 25 in the child, 25 in the parent after it


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_key_attributes_survive_the_attribute_count_limit(sdk: Any, http: httpx.Client) -> None:
    prompt = plaudit.Prompt("answer", "v7", "Q: {q}")
    with plaudit.context(user_id="u1", session_id="s1"):
        with plaudit.span("chat", kind="llm", model="m-big", prompt=prompt, config={"t": 1}, variant="A") as span:
            for i in range(400):  # far past OTel's default limit of 128 attributes per span
                span.set_attribute(f"llm.input_messages.{i}.message.content", "x" * 10)
            span.set_usage(5, 7)
            ref = span.ref
    assert ref is not None and plaudit.flush(20)
    stored = http.get(f"/v1/traces/{ref.trace_id}").json()["spans"][0]
    assert {key for key in KEY_ATTRIBUTES if stored[key] is None} == set()
    assert (stored["model"], stored["variant"], stored["prompt_version"]) == ("m-big", "A", "v7")
    assert (stored["input_tokens"], stored["output_tokens"]) == (5, 7)
