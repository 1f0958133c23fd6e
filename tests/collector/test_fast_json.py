"""The feedback reply written by orjson says what the standard encoder would, byte for byte where orjson
can write it, and is the standard encoder's own answer where it cannot."""

from __future__ import annotations

import json

from fastapi.responses import JSONResponse

from plaudit_collector.api.fast_json import FastJSONResponse


def test_the_reply_reads_back_as_the_standard_encoders() -> None:
    item = {"id": 1, "value": True, "score": 0.1 + 0.2, "label": None, "comment": 'é \u2028 "q" \\', "n": -(2**63)}
    content = {"ids": [1], "items": [item, {**item, "metadata": {"deep": [1.5, {"x": None}]}}]}
    fast = FastJSONResponse(content).body
    assert fast == JSONResponse(content).body and json.loads(fast) == content


def test_what_orjson_refuses_is_written_by_the_standard_encoder() -> None:
    for content in ({"big": 2**70}, {"metadata": {1: "an integer key"}}):
        assert FastJSONResponse(content).body == JSONResponse(content).body
