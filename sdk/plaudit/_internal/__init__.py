"""Plaudit internals: free to change, never imported by users."""
