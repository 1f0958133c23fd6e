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
QUESTIONS = (
    "How do I reset my password?",
    "Can I change my plan mid-month?",
    "Why was I charged twice?",
    "How do I export my data?",
    "Where can I find my invoices?",
)


def fake_llm(model: str, prompt: str) -> tuple[str, int, int]:
    """A deterministic stand-in for a chat model: same input, same answer and token counts."""
    digest = hashlib.sha256(f"{model}:{prompt}".encode()).hexdigest()
    answer = f"[{model}] Here is what to do ({digest[:8]}): open Settings and follow the steps."
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
    for i in range(requests_per_variant * len(variants)):
        version, model = variants[i % len(variants)]
        user = f"user-{rng.randrange(40)}"
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
