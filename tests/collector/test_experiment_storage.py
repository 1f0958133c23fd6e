"""Spans keep the experiment that chose them (bad values stay in the attributes only), feedback copies it
however the two race, and a database from before experiments upgrades with its ratings still credited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import text

from plaudit_collector.store.db import Database


def test_spans_record_the_experiment_and_odd_values_stay_in_the_attributes(
    http: httpx.Client, otlp: Any, post_otlp: Callable[..., httpx.Response]
) -> None:
    trace = otlp.trace_id()
    good = {
        "plaudit.experiment.probability": 0.25,
        "plaudit.experiment.segment": "pro",
        "plaudit.experiment.choice": "abc",
    }
    cases = {
        "good": good,
        "zero": {"plaudit.experiment.probability": 0.0},
        "above one": {"plaudit.experiment.probability": 1.5},
        "text": {"plaudit.experiment.probability": "0.5", "plaudit.experiment.segment": 3},
        "flag": {"plaudit.experiment.probability": True},
        "nan": {"plaudit.experiment.probability": 0.5},  # made NaN below (JSON has no NaN literal)
        "long": {"plaudit.experiment.choice": "c" * 100, "plaudit.experiment.segment": "s" * 300},
    }
    spans = []
    for name, extra in cases.items():
        attrs = {"plaudit.experiment": "e" * (210 if name == "long" else 1), "plaudit.variant": "v", **extra}
        spans.append(otlp.span(name, attrs, trace_id=trace))
    for attr in spans[5]["attributes"]:
        if attr["key"] == "plaudit.experiment.probability":
            attr["value"] = {"doubleValue": "NaN"}
    spans.append(otlp.span("plain", {"plaudit.variant": "v"}, trace_id=trace))
    assert post_otlp(otlp.request(spans)).status_code == 200
    stored = {s["name"]: s for s in http.get(f"/v1/traces/{trace}").json()["spans"]}
    fields = ("experiment", "experiment_segment", "experiment_probability", "experiment_choice")
    assert [stored["good"][f] for f in fields] == ["e", "pro", 0.25, "abc"]
    for name in ("zero", "above one", "text", "flag", "nan"):
        assert stored[name]["experiment"] == "e" and stored[name]["experiment_probability"] is None, name
    assert stored["text"]["experiment_segment"] == "3"
    assert stored["text"]["attributes"]["plaudit.experiment.probability"] == "0.5"
    assert len(stored["long"]["experiment"]) == 200 and len(stored["long"]["experiment_choice"]) == 64
    assert len(stored["long"]["experiment_segment"]) == 200
    assert [stored["plain"][f] for f in fields] == [None, None, None, None]


def test_a_database_from_before_experiments_upgrades_with_ratings_still_credited(db_url: str) -> None:
    db = Database(db_url)
    try:
        db.upgrade("0001_baseline")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO spans (project, trace_id, span_id, name, otel_kind, start_ns, end_ns, duration_ms, "
                    "status_code, variant, attributes, resource, events, links, received_at) VALUES ('default', "
                    "'0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', 'chat', 'INTERNAL', 1, 2, 0, 'UNSET', "
                    "'v1', '{}', '{}', '[]', '[]', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO feedback (project, target_type, trace_id, span_id, name, kind, score, source, "
                    "idempotency_key, is_current, created_at) VALUES ('default', 'span', "
                    "'0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', 'thumbs', 'boolean', 1.0, 'human', "
                    "'k1', TRUE, CURRENT_TIMESTAMP)"
                )
            )
        db.upgrade()
        with db.engine.connect() as conn:
            row = conn.execute(text("SELECT span_pk, span_variant, span_experiment FROM feedback")).one()
            span_pk = conn.execute(text("SELECT id FROM spans")).scalar()
        assert (row.span_pk, row.span_variant, row.span_experiment) == (span_pk, "v1", None)
    finally:
        db.dispose()
