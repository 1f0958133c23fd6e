"""The one query vocabulary: every dimension, filter and option a question accepts, declared once.

REST query parameters (``api/query_params.py``), ``plaudit.Client`` keyword arguments (checked against this
table by a test, since the SDK never imports the collector), CLI options (``cli/query_options.py``) and the
dashboard's controls (served at ``GET /v1/query-model``) are all built from or checked against
:data:`TERMS`, so the doors cannot drift apart. Pure data: no web framework, no database.

``model`` holds what a term is, ``terms`` the table, ``lookups`` the ways to read it.
"""

from plaudit_collector.vocabulary.lookups import (
    close_matches,
    markdown_table,
    served,
    term,
    terms_for,
    unknown_message,
)
from plaudit_collector.vocabulary.model import Dimension, Term
from plaudit_collector.vocabulary.terms import (
    ALL,
    ANALYSES,
    ATTRIBUTE_DIMENSION,
    DIMENSION_NAMES,
    DIMENSIONS,
    EXPORTS,
    JUDGED,
    PPI,
    QUESTIONS,
    RANKED,
    SCORED,
    SOURCES,
    TERMS,
)

__all__ = [
    "ALL",
    "ANALYSES",
    "ATTRIBUTE_DIMENSION",
    "DIMENSIONS",
    "DIMENSION_NAMES",
    "EXPORTS",
    "JUDGED",
    "PPI",
    "QUESTIONS",
    "RANKED",
    "SCORED",
    "SOURCES",
    "TERMS",
    "Dimension",
    "Term",
    "close_matches",
    "markdown_table",
    "served",
    "term",
    "terms_for",
    "unknown_message",
]
