"""Review queues from code: ``plaudit.Client`` inherits these methods (``client.create_queue(...)``).

Items are reserved one at a time for a reviewer; each verdict is stored by the collector as ordinary
annotator feedback (a preference in a pairwise queue).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from plaudit._internal.queue_models import QueueItem, ReviewQueue


class QueueMethods:
    """The review-queue half of :class:`plaudit.Client`."""

    _http: httpx.Client

    def _get(self, path: str, params: Any = None) -> Any:  # pragma: no cover - provided by Client
        raise NotImplementedError

    @staticmethod
    def _raise_for(response: httpx.Response) -> None:  # pragma: no cover - provided by Client
        raise NotImplementedError

    def _queue_send(self, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        response = self._http.request(method, path, json=body, params=params)
        self._raise_for(response)
        return None if response.status_code == 204 or not response.content else response.json()

    def queues(self) -> list[ReviewQueue]:
        """Every review queue of the project, newest first, with its progress."""
        return [ReviewQueue.model_validate(q) for q in self._get("/v1/queues")["queues"]]

    def create_queue(
        self,
        name: str,
        scores: Sequence[str] = (),
        *,
        filter: Mapping[str, Any] | None = None,
        sample: int | None = None,
        overlap: int = 1,
        order: str = "random",
        kind: str = "single",
        items: Sequence[Mapping[str, Any]] | None = None,
        reserve_seconds: int | None = None,
        description: str | None = None,
    ) -> ReviewQueue:
        """A queue of the spans matching ``filter`` (trace-search terms, e.g. ``{"where": "model=m1"}``), or of
        ``items``; ``sample`` of them (None: every match) in ``order`` ("random", "oldest", "newest";
        "disagreement": judge-human disagreement on the first score first; "informative": the spans whose human
        rating would narrow the judge-assisted leaderboard most first), each rated by ``overlap`` reviewers.
        ``kind="pairwise"``: pairs of spans with the same input from different variants, judged A/B/tie."""
        body: dict[str, Any] = {"name": name, "scores": list(scores), "overlap": overlap, "order": order, "kind": kind}
        for key, value in (
            ("filter", dict(filter) if filter else None),
            ("sample", sample),
            ("items", [dict(i) for i in items] if items is not None else None),
            ("reserve_seconds", reserve_seconds),
            ("description", description),
        ):
            if value is not None:
                body[key] = value
        return ReviewQueue.model_validate(self._queue_send("POST", "/v1/queues", body))

    def queue(self, queue_id: int) -> ReviewQueue:
        """One queue with its progress overall and per reviewer."""
        return ReviewQueue.model_validate(self._get(f"/v1/queues/{int(queue_id)}"))

    def next_item(self, queue_id: int, reviewer: str) -> QueueItem | None:
        """Reserve the next item for ``reviewer`` (the same one again while they hold it); None when nothing is
        left for them."""
        found = self._queue_send("GET", f"/v1/queues/{int(queue_id)}/next", params={"reviewer": reviewer})
        return None if found is None else QueueItem.model_validate(found)

    def submit_item(
        self,
        queue_id: int,
        item_id: int,
        reviewer: str,
        ratings: Mapping[str, Any] | None = None,
        *,
        comment: str | None = None,
        correction: str | None = None,
        winner: str | None = None,
        skip: bool = False,
    ) -> dict[str, Any]:
        """Rate an item (``ratings`` by score name; ``winner`` "a", "b" or "tie" in a pairwise queue, as the item
        showed the sides) or ``skip`` it. Returns ``{"item_id", "state", "feedback_ids"}``."""
        body: dict[str, Any] = {"reviewer": reviewer}
        if skip:
            body["skip"] = True
        for key, value in (("ratings", dict(ratings) if ratings else None), ("comment", comment)):
            if value is not None:
                body[key] = value
        for key, value in (("correction", correction), ("winner", winner)):
            if value is not None:
                body[key] = value
        return self._queue_send("POST", f"/v1/queues/{int(queue_id)}/items/{int(item_id)}", body)  # type: ignore[no-any-return]

    def delete_queue(self, queue_id: int) -> None:
        """Remove a queue; the feedback given through it stays."""
        self._queue_send("DELETE", f"/v1/queues/{int(queue_id)}")
