"""Feedback that travels inside OTLP lands as feedback on its target, not as stray spans."""

from __future__ import annotations

from typing import Any

import httpx


def trace_of(http: httpx.Client, trace_id: str) -> dict[str, Any]:
    response = http.get(f"/v1/traces/{trace_id}")
    assert response.status_code == 200, response.text
    return response.json()


def test_inline_openinference_annotations_by_scope(http: httpx.Client, otlp: Any) -> None:
    trace_id, span_id = otlp.trace_id(), otlp.span_id()
    attrs = {
        "openinference.span.kind": "LLM",
        "session.id": "sess-9",
        "annotations.0.annotation.name": "hallucination",
        "annotations.0.annotation.score": 1,
        "annotations.0.annotation.label": "hallucinated",
        "annotations.0.annotation.explanation": "not in the documents",
        "annotations.0.annotation.annotator_kind": "LLM",
        "annotations.0.annotation.identifier": "judge-v2",
        "annotations.0.annotation.metadata": '{"rubric_version": "2"}',
        "evaluations.1.evaluation.name": "tone",
        "evaluations.1.evaluation.label": "polite",
        "evaluations.1.evaluation.annotator_kind": "HUMAN",
        "trace.annotations.0.annotation.name": "retrieval_quality",
        "trace.annotations.0.annotation.score": 0.92,
        "trace.annotations.0.annotation.annotator_kind": "CODE",
        "session.annotations.0.annotation.name": "coherence",
        "session.annotations.0.annotation.label": "coherent",
        "annotations.2.annotation.annotator_kind": "HUMAN",  # no name: not feedback, reported not stored
    }
    doc = otlp.request([otlp.span("answer", attrs, trace_id=trace_id, span_id=span_id)])
    response = http.post("/v1/traces", json=doc)
    assert response.status_code == 200, response.text
    assert "ignored" in response.json()["partialSuccess"]["errorMessage"]

    trace = trace_of(http, trace_id)
    (span,) = trace["spans"]  # the annotated span itself is stored as a span
    by_name = {fb["name"]: fb for fb in span["feedback"]}
    assert set(by_name) == {"hallucination", "tone"}
    hallucination = by_name["hallucination"]
    assert (hallucination["value"], hallucination["source"], hallucination["author"]) == (1, "llm_judge", "judge-v2")
    assert hallucination["comment"] == "not in the documents"
    assert hallucination["metadata"]["label"] == "hallucinated"
    assert hallucination["metadata"]["rubric_version"] == "2"
    assert (by_name["tone"]["value"], by_name["tone"]["source"]) == ("polite", "human")
    trace_level = {fb["name"]: fb for fb in trace["feedback"]}
    assert trace_level["retrieval_quality"]["value"] == 0.92 and trace_level["retrieval_quality"]["source"] == "code"
    assert "coherence" not in trace_level  # session feedback targets the session, not this trace
    session = http.get("/v1/feedback", params={"session_id": "sess-9"})
    assert session.status_code == 200, session.text
    assert [(fb["name"], fb["value"]) for fb in session.json()["data"]] == [("coherence", "coherent")]

    # The same batch again stores nothing new.
    assert http.post("/v1/traces", json=doc).status_code == 200
    again = trace_of(http, trace_id)
    assert len(again["spans"]) == 1
    assert sorted(fb["id"] for fb in again["spans"][0]["feedback"]) == sorted(fb["id"] for fb in span["feedback"])
    assert len(again["feedback"]) == len(trace["feedback"])


def test_post_hoc_carrier_span_points_at_its_target(http: httpx.Client, otlp: Any) -> None:
    trace_id, target = otlp.trace_id(), otlp.span_id()
    assert (
        http.post(
            "/v1/traces", json=otlp.request([otlp.span("llm call", {}, trace_id=trace_id, span_id=target)])
        ).status_code
        == 200
    )
    carrier_trace = otlp.trace_id()
    carrier = otlp.span(
        "hallucination evaluation",
        {
            "openinference.span.kind": "EVALUATOR",
            "evaluations.0.evaluation.name": "hallucination",
            "evaluations.0.evaluation.label": "hallucinated",
            "evaluations.0.evaluation.annotator_kind": "HUMAN",
        },
        trace_id=carrier_trace,
        links=[(trace_id, target)],
    )
    assert http.post("/v1/traces", json=otlp.request([carrier])).status_code == 200
    (span,) = trace_of(http, trace_id)["spans"]
    assert [(fb["name"], fb["value"]) for fb in span["feedback"]] == [("hallucination", "hallucinated")]
    assert http.get(f"/v1/traces/{carrier_trace}").status_code == 404  # the carrier is not kept as a span


def test_logfire_feedback_span_rates_its_parent(http: httpx.Client, otlp: Any) -> None:
    trace_id, target = otlp.trace_id(), otlp.span_id()
    parent = otlp.span("agent run", {}, trace_id=trace_id, span_id=target)
    feedback_span = otlp.span(
        "feedback: factuality",
        {
            "logfire.span_type": "annotation",
            "logfire.msg": "feedback: factuality = 0.1",
            "logfire.feedback.name": "factuality",
            "factuality": 0.1,
            "foo": "bar",
            "logfire.feedback.comment": "the agent lied",
        },
        trace_id=trace_id,
        parent=target,
    )
    assert http.post("/v1/traces", json=otlp.request([parent, feedback_span])).status_code == 200
    trace = trace_of(http, trace_id)
    assert [s["name"] for s in trace["spans"]] == ["agent run"]
    (fb,) = trace["spans"][0]["feedback"]
    assert (fb["name"], fb["value"], fb["comment"], fb["metadata"]["foo"]) == (
        "factuality",
        0.1,
        "the agent lied",
        "bar",
    )


def test_genai_evaluation_result_event(http: httpx.Client, otlp: Any) -> None:
    trace_id, span_id = otlp.trace_id(), otlp.span_id()
    span = otlp.span(
        "chat gpt-4o",
        {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"},
        trace_id=trace_id,
        span_id=span_id,
        events=[
            (
                "gen_ai.evaluation.result",
                {
                    "gen_ai.evaluation.name": "relevance",
                    "gen_ai.evaluation.score.value": 4,
                    "gen_ai.evaluation.score.label": "relevant",
                    "gen_ai.evaluation.explanation": "on topic",
                },
            )
        ],
    )
    assert http.post("/v1/traces", json=otlp.request([span])).status_code == 200
    (stored,) = trace_of(http, trace_id)["spans"]
    (fb,) = stored["feedback"]
    assert (fb["name"], fb["value"], fb["comment"], fb["metadata"]["label"]) == ("relevance", 4, "on topic", "relevant")
    assert stored["model"] == "gpt-4o"


def test_feedback_may_arrive_before_its_span(http: httpx.Client, otlp: Any) -> None:
    trace_id, target = otlp.trace_id(), otlp.span_id()
    carrier = otlp.span(
        "eval", {"annotations.0.annotation.name": "ok", "annotations.0.annotation.score": 1}, links=[(trace_id, target)]
    )
    assert http.post("/v1/traces", json=otlp.request([carrier])).status_code == 200
    assert trace_of(http, trace_id)["pending_feedback"][0]["name"] == "ok"
    assert (
        http.post(
            "/v1/traces", json=otlp.request([otlp.span("late", {}, trace_id=trace_id, span_id=target)])
        ).status_code
        == 200
    )
    assert trace_of(http, trace_id)["spans"][0]["feedback"][0]["name"] == "ok"
