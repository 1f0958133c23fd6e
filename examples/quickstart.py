"""Quickstart: trace an LLM app, collect ratings, find the variant users like best.

The app answers questions with 3 prompt versions x 2 models. The "LLM" is a deterministic local
fake (no network). Simulated users give a thumbs up with a known probability per variant, so
the leaderboard's winner is known in advance: v3 on fake-large.

Run a collector first (`plaudit serve`), then `python examples/quickstart.py`; or `make demo`.
"""

from __future__ import annotations

import hashlib
import os
import random

import plaudit

PROMPTS = {
    "v1": plaudit.Prompt("support-answer", "v1", "Answer: {question}"),
    "v2": plaudit.Prompt("support-answer", "v2", "You are a friendly support agent. Answer: {question}"),
    "v3": plaudit.Prompt("support-answer", "v3", "Think step by step, then answer kindly and briefly: {question}"),
}
MODELS = ("fake-small", "fake-large")

# The simulation's ground truth: the chance that a user likes an answer from each variant.
TRUE_THUMBS_UP = {
    ("v1", "fake-small"): 0.35,
    ("v1", "fake-large"): 0.50,
    ("v2", "fake-small"): 0.55,
    ("v2", "fake-large"): 0.70,
    ("v3", "fake-small"): 0.60,
    ("v3", "fake-large"): 0.88,
}
# What the fake model says to each question: the steps, and a detail the larger model adds.
ANSWERS = {
    "How do I reset my password?": (
        "choose 'Forgot password' on the sign-in page and follow the link we email you.",
        "The link works for an hour; if it expired, ask for a new one.",
    ),
    "Can I change my plan mid-month?": (
        "open Billing, pick the new plan and confirm; the change applies at once.",
        "You pay the difference for the days left in the month, or get it back as credit.",
    ),
    "Why was I charged twice?": (
        "one of the two charges is usually a card check that disappears within a few days.",
        "If both are still there after a week, reply here and we will refund the duplicate.",
    ),
    "How do I export my data?": (
        "use Export in the Data tab; you get a ZIP file with one CSV per table.",
        "Large exports are emailed to you when they are ready.",
    ),
    "Where can I find my invoices?": (
        "every invoice is on the Billing page, each with a PDF download link.",
        "You can also have them emailed to your accountant from the same page.",
    ),
}
QUESTIONS = tuple(ANSWERS)
OPENERS = ("Sure!", "Happy to help:", "Good question.", "Here is how:")


def fake_llm(model: str, prompt: str) -> tuple[str, int, int]:
    """A deterministic stand-in for a chat model: same input, same answer and token counts. The answer reads
    like an answer; the larger model adds a detail."""
    digest = hashlib.sha256(f"{model}:{prompt}".encode()).digest()
    question = next((q for q in QUESTIONS if q in prompt), QUESTIONS[0])
    steps, detail = ANSWERS[question]
    answer = f"{OPENERS[digest[0] % len(OPENERS)]} {steps[0].upper()}{steps[1:]}"
    if model == "fake-large":
        answer += f" {detail}"
    return answer, len(prompt.split()) + 5, len(answer.split())


@plaudit.trace(kind="retrieval")
def retrieve(question: str) -> list[str]:
    return [f"doc-{sum(map(ord, question)) % 7}"]


def answer(question: str, version: str, model: str) -> str:
    """One request: retrieve context, then call the model with the chosen prompt version."""
    docs = retrieve(question)
    prompt = PROMPTS[version]
    config = {"temperature": 0.2, "max_tokens": 256}
    with plaudit.span(
        "chat", kind="llm", prompt=prompt, model=model, provider="fake", config=config, variant=f"{version}/{model}"
    ) as span:
        text = prompt.format(question=question) + f" (context: {', '.join(docs)})"
        span.set_input(text)
        reply, tokens_in, tokens_out = fake_llm(model, text)
        span.set_output(reply)
        span.set_usage(tokens_in, tokens_out)
        return reply


def main(requests_per_variant: int = 150, seed: int = 7) -> None:
    plaudit.configure(service_name="quickstart")
    rng = random.Random(seed)
    variants = [(version, model) for version in PROMPTS for model in MODELS]
    user = ""
    for i in range(requests_per_variant * len(variants)):
        version, model = variants[i % len(variants)]
        visitor = f"user-{rng.randrange(40)}"
        if i % 3 == 0:  # a session is three requests, all by the visitor who opened it
            user = visitor
        with plaudit.context(user_id=user, session_id=f"session-{i // 3}"), plaudit.span("request", kind="chain"):
            answer(rng.choice(QUESTIONS), version, model)
            ref = plaudit.last_ref()  # the "chat" call that just ended: what the user rates
        if ref is not None:
            liked = rng.random() < TRUE_THUMBS_UP[(version, model)]
            plaudit.feedback(ref, "thumbs", liked, source="end_user", author=user)
    delivered = plaudit.flush()
    print(f"sent {requests_per_variant * len(variants)} traced answers with ratings (delivered: {delivered})")


if __name__ == "__main__":
    main(int(os.environ.get("QUICKSTART_REQUESTS_PER_VARIANT", "150")))
