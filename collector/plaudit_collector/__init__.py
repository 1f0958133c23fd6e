"""Plaudit collector."""
