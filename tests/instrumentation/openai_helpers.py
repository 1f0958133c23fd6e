"""Helpers the OpenAI instrumentation tests share: clients for the fake provider, span readers, and a
span processor that fails on purpose (to show a Plaudit-side failure never reaches the host)."""

from __future__ import annotations

import json
from typing import Any

import openai
from fake_provider import FakeProvider
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from plaudit import semconv
from plaudit.testing import InMemorySpanExporter


def async_client(fake: FakeProvider) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="k", base_url=fake.openai_url, max_retries=0)


def llm_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = [s for s in exporter.get_finished_spans() if s.attributes.get(semconv.GEN_AI_PROVIDER_NAME) == "openai"]
    return span


def content(span: ReadableSpan, key: str) -> Any:
    return json.loads(span.attributes[key])  # type: ignore[arg-type]


class ExplodingProcessor(SpanProcessor):
    def __init__(self, where: str) -> None:
        self.where = where

    def on_start(self, span: Span, parent_context: object = None) -> None:
        if self.where == "start":
            raise RuntimeError("plaudit-side failure on start")

    def on_end(self, span: ReadableSpan) -> None:
        if self.where == "end":
            raise RuntimeError("plaudit-side failure on end")
