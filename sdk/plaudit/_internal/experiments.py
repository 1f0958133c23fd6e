"""``plaudit.Experiment``: variants chosen per request by a policy that learns from the feedback.

The collector holds the definition and computes the policy's probabilities; an :class:`Experiment` keeps
the last state it fetched and refreshes it in a background thread, so :meth:`Experiment.choose` samples
locally and never waits on the network. Before any state arrives the variants named in code are split
evenly; while the collector is unreachable the last state stays in use.
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from plaudit import semconv
from plaudit._internal.context import current_attributes
from plaudit._internal.errors import handle_internal_errors, log_internal_error
from plaudit._internal.experiment_choice import Choice
from plaudit._internal.experiment_state import PolicyState, parse_state, pick, uniform, unit_draw

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger("plaudit")

POLICIES = ("thompson", "epsilon_greedy", "fixed")
MAX_STICKY_UNITS = 100_000
"""Sticky units remembered in memory (least recently used forgotten first; the collector keeps them all)."""
MAX_PENDING_UNITS = 10_000
EARLY_REFRESH_CHOICES = 100
"""Choices after which the state is refreshed before ``refresh_interval`` is up (busy apps learn sooner) ..."""
MIN_REFRESH_SECONDS = 1.0
"""... but never more often than this (the collector caches a state for a second anyway)."""


def _check_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise ValueError(f"{what} must be a non-blank string of at most 200 characters, got {value!r}")
    return value


def _flag(value: Any, what: str) -> None:
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{what} must be True, False or None, got {value!r}")


def _share(value: Any, what: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{what} must be a number from 0 to 1, got {value!r}")


class Experiment:
    """Choose a variant per request, learning from feedback which one each segment should get.

    ``plaudit.Experiment("answer-style")`` follows the definition stored in the collector;
    ``plaudit.Experiment("answer-style", {"concise": {...}, "detailed": {...}}, score="thumbs",
    policy="thompson", segment_by="plan")`` registers it first (created if new; otherwise the variants it
    lacks are added and the payloads named updated, while stored settings, paused and removed variants stay
    as they are: those change through the API, ``plaudit experiments ...`` or ``plaudit.Client``).

    Args:
        name: the experiment's name.
        variants: variant name → payload (a dict: ``prompt``, ``model``, ``config``, anything).
        score: the feedback name that rewards a choice (needed to register).
        policy: ``"thompson"`` (default), ``"epsilon_greedy"`` or ``"fixed"``.
        segment_by: the key whose values are segments (``choose(segment=...)``, or that key in
            :func:`plaudit.context` metadata); each segment learns its own preference.
        higher_is_better, sticky, epsilon, min_share, max_share, weights: the rest of the definition
            (a sticky experiment keeps a unit, ``choose(user_id=...)``, on its first variant).
        refresh_interval: seconds between background refreshes of the policy state (sooner, though at most
            once a second, after every 100 choices).
        timeout: seconds each request to the collector may take.
        endpoint, api_key: the collector (default: as :func:`plaudit.configure` set up).
        seed: makes the choices reproducible (simulations, tests).

    Raises:
        TypeError, ValueError: for wrong arguments; nothing else ever raises into the app.

    Example:
        >>> exp = plaudit.Experiment("answer-style", {"concise": {"model": "m1"}}, score="thumbs")
        >>> with exp.choose(user_id="u1") as choice:  # doctest: +SKIP
        ...     reply = call_llm(choice.payload["model"])
    """

    def __init__(
        self,
        name: str,
        variants: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        score: str | None = None,
        policy: str | None = None,
        segment_by: str | None = None,
        higher_is_better: bool | None = None,
        sticky: bool | None = None,
        epsilon: float | None = None,
        min_share: float | None = None,
        max_share: float | None = None,
        weights: Mapping[str, float] | None = None,
        refresh_interval: float = 5.0,
        timeout: float = 5.0,
        endpoint: str | None = None,
        api_key: str | None = None,
        seed: int | None = None,
    ) -> None:
        self.name = _check_name(name, "name")
        if variants is not None:
            if not isinstance(variants, Mapping) or not variants:
                raise ValueError("variants must be a non-empty mapping of variant name to payload dict")
            for key, payload in variants.items():
                _check_name(key, "a variant name")
                if not isinstance(payload, Mapping):
                    raise TypeError(f"variant {key!r}: the payload must be a dict, got {type(payload).__name__}")
            if score is None:
                raise ValueError("registering variants needs the score that rewards them, e.g. score='thumbs'")
        if score is not None:
            _check_name(score, "score")
        if policy is not None and policy not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")
        if segment_by is not None:
            _check_name(segment_by, "segment_by")
        _flag(higher_is_better, "higher_is_better")
        _flag(sticky, "sticky")
        for share, what in ((epsilon, "epsilon"), (min_share, "min_share"), (max_share, "max_share")):
            _share(share, what)
        if (
            not isinstance(refresh_interval, (int, float))
            or isinstance(refresh_interval, bool)
            or refresh_interval <= 0
        ):
            raise ValueError(f"refresh_interval must be a positive number of seconds, got {refresh_interval!r}")
        self._registration: dict[str, Any] | None = None
        if variants is not None:
            fields = {
                "score": score,
                "policy": policy,
                "segment_by": segment_by,
                "higher_is_better": higher_is_better,
                "sticky": sticky,
                "epsilon": epsilon,
                "min_share": min_share,
                "max_share": max_share,
                "weights": dict(weights) if weights else None,
            }
            self._registration = {
                "name": name,
                "variants": {k: dict(v) for k, v in variants.items()},
                **{k: v for k, v in fields.items() if v is not None},
            }
        self._fallback = uniform(variants or {})
        self._segment_by = segment_by
        self._state: PolicyState | None = None
        self._interval = float(refresh_interval)
        self._timeout = float(timeout)
        self._endpoint, self._api_key = endpoint, api_key
        self._rng = random.Random(seed)
        self._units: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._pending_units: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._http: httpx.Client | None = None
        self._wake = threading.Event()
        self._closed = False
        self._failing = False
        self._thread: threading.Thread | None = None
        self._choices_since_refresh = 0
        self._refreshed_at = -math.inf
        self._pid = os.getpid()
        with handle_internal_errors:
            self._start()

    # -- choosing ---------------------------------------------------------------------------------

    def choose(self, *, user_id: str | None = None, segment: str | None = None) -> Choice:
        """Pick a variant now, from the cached state (never waits on the network).

        Use it as ``with exp.choose(...) as choice:``: every span opened inside the block carries the
        experiment, the variant, its probability and the segment, and the block itself is a span
        (``choice.ref``) whose feedback reaches the experiment.

        Args:
            user_id: the user; a sticky experiment keeps them on their first variant.
            segment: the segment's value (by default, the ``segment_by`` key of :func:`plaudit.context`
                metadata).

        Returns:
            A :class:`Choice`.

        Raises:
            TypeError: when ``user_id`` or ``segment`` is not a string.
        """
        if user_id is not None and not isinstance(user_id, str):
            raise TypeError(f"user_id must be a string, got {type(user_id).__name__}")
        if segment is not None and not isinstance(segment, str):
            raise TypeError(f"segment must be a string, got {type(segment).__name__}")
        try:
            if os.getpid() != self._pid:
                self._after_fork()
            return self._choose(user_id, segment)
        except Exception:  # noqa: BLE001 - a failed choice still serves the app something
            log_internal_error()
            payloads = self._fallback.payloads
            first = next(iter(payloads), None)
            return Choice(self.name, first, payloads.get(first, {}) if first else {}, None, segment, user_id)

    def _choose(self, user_id: str | None, segment: str | None) -> Choice:
        state = self._state or self._fallback
        if segment is None:
            segment_by = state.segment_by or self._segment_by
            if segment_by is not None:
                found = (current_attributes() or {}).get(semconv.METADATA_PREFIX + segment_by)
                segment = None if found is None else str(found)
        self._choices_since_refresh += 1
        if (
            self._choices_since_refresh >= EARLY_REFRESH_CHOICES
            and time.monotonic() - self._refreshed_at >= MIN_REFRESH_SECONDS
        ):
            self._choices_since_refresh = 0
            self._wake.set()
        probabilities = state.probabilities(segment)
        if not probabilities:
            if not self._failing:
                logger.warning("Plaudit experiment %r has no variant to serve yet", self.name)
            return Choice(self.name, None, {}, None, segment, user_id)
        if state.sticky and user_id is not None:
            variant, probability = self._sticky(state, probabilities, user_id, segment)
        else:
            variant = pick(probabilities, self._rng.random())
            probability = probabilities[variant]  # type: ignore[index]
        return Choice(self.name, variant, state.payloads[variant], probability, segment, user_id)  # type: ignore[index]

    def _sticky(
        self, state: PolicyState, probabilities: dict[str, float], unit: str, segment: str | None
    ) -> tuple[str, float]:
        with self._lock:
            known = self._units.get(unit)
            if known is not None and known[0] in probabilities:
                self._units.move_to_end(unit)
                return known
            variant = pick(probabilities, unit_draw(self.name, unit))
            chosen = (variant, probabilities[variant])  # type: ignore[index]
            self._units[unit] = chosen  # type: ignore[assignment]
            if len(self._units) > MAX_STICKY_UNITS:
                self._units.popitem(last=False)
            if len(self._pending_units) < MAX_PENDING_UNITS:
                self._pending_units.append(
                    {"unit": unit, "variant": variant, "probability": chosen[1], "segment": segment}
                )
        return chosen  # type: ignore[return-value]

    # -- keeping the state fresh --------------------------------------------------------------------

    def refresh(self) -> bool:
        """Fetch the state now, recomputed by the collector from the latest feedback (the background thread
        does this every ``refresh_interval`` seconds from a cache at most a second old).

        Returns:
            True when a state arrived; False when the collector could not be reached (the last state
            stays in use).
        """
        try:
            return self._sync(max_age=0.0)
        except Exception:  # noqa: BLE001 - refreshing must not break the app
            log_internal_error()
            return False

    def close(self) -> None:
        """Stop the background refresh (choices keep using the last state); waits at most a second for it."""
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)
        http, self._http = self._http, None
        if http is not None:
            http.close()

    def __enter__(self) -> Experiment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"plaudit-experiment-{self.name}", daemon=True)
        self._thread.start()

    def _after_fork(self) -> None:
        """A forked child has no refresh thread and must not share the parent's connections."""
        self._pid = os.getpid()
        self._lock, self._sync_lock = threading.Lock(), threading.Lock()
        self._wake = threading.Event()
        self._http = None
        if not self._closed:
            self._start()

    def _run(self) -> None:
        while not self._closed:
            try:
                self._sync(max_age=None)
            except Exception:  # noqa: BLE001 - the refresh thread must survive anything
                log_internal_error()
            self._wake.wait(self._interval * self._rng.uniform(0.9, 1.1))
            self._wake.clear()

    def _client(self) -> httpx.Client:
        """The collector as :func:`plaudit.configure` set it up (or the ``endpoint``/``api_key`` given), with
        the project it named, so the experiment lives in the project its spans and feedback go to."""
        import httpx

        from plaudit._internal.config import resolve
        from plaudit._internal.provider import get_settings
        from plaudit._internal.state import STATE

        if self._http is None:
            if self._endpoint is not None or self._api_key is not None:
                project = STATE.settings.project if STATE.settings is not None else None
                settings = resolve(endpoint=self._endpoint, api_key=self._api_key, project=project)
            else:
                settings = get_settings()
            self._http = httpx.Client(base_url=settings.endpoint, headers=settings.headers(), timeout=self._timeout)
        return self._http

    def _sync(self, max_age: float | None) -> bool:
        """Register (until that succeeds), report new sticky units, fetch the state. True when it arrived."""
        import httpx

        with self._sync_lock:
            if self._closed and max_age is None:
                return False
            self._refreshed_at = time.monotonic()
            self._choices_since_refresh = 0
            path = f"/v1/experiments/{quote(self.name, safe='')}"
            try:
                client = self._client()
                if self._registration is not None:
                    self._register(client)
                self._report_units(client, path)
                params = {} if max_age is None else {"max_age": str(max_age)}
                response = client.get(f"{path}/state", params=params)
            except httpx.HTTPError as exc:
                self._unreachable(exc)
                return False
            if response.status_code >= 400:
                self._unreachable(f"{response.status_code} {response.text[:200]}")
                return False
            self._state = parse_state(response.json())
            if self._failing:
                logger.info("Plaudit experiment %r: the collector answers again", self.name)
            self._failing = False
            return True

    def _register(self, client: httpx.Client) -> None:
        response = client.post("/v1/experiments", json=self._registration)
        if response.status_code in (200, 201):
            for note in response.json().get("notes") or ():
                logger.info("Plaudit experiment %r: %s", self.name, note)
            self._registration = None
        elif 400 <= response.status_code < 500 and response.status_code not in (401, 408, 429):
            logger.error("Plaudit experiment %r was not registered: %s", self.name, response.text[:500])
            self._registration = None  # a definition the collector refuses will not improve by retrying

    def _report_units(self, client: httpx.Client, path: str) -> None:
        with self._lock:
            pending, self._pending_units = self._pending_units, []
        if not pending:
            return
        response = client.post(f"{path}/units", json={"units": pending[:1000]})
        if response.status_code >= 400:
            with self._lock:
                self._pending_units = pending[:MAX_PENDING_UNITS] if response.status_code >= 500 else pending[1000:]
            return
        with self._lock:
            self._pending_units = pending[1000:] + self._pending_units
            for item in response.json().get("units") or ():
                if item.get("unit") in self._units:  # follow what the collector stored first
                    self._units[item["unit"]] = (item["variant"], float(item["probability"]))

    def _unreachable(self, problem: object) -> None:
        if not self._failing:
            logger.warning(
                "Plaudit experiment %r: could not refresh the policy state (%s); using the %s",
                self.name,
                problem,
                "last state" if self._state is not None else "variants named in code, split evenly",
            )
        self._failing = True
