"""Feedback: span references and the client that ships ratings to the collector."""
