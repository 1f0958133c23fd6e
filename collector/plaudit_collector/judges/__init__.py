"""LLM judges: definitions run over stored spans, their ratings written as feedback."""
