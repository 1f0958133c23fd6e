"""The dashboard: pages served by the collector itself, built from the same analytics the REST API returns.

Pages enter as HTTP GETs and leave as HTML; data comes from :mod:`plaudit_collector.store` reads and
:mod:`plaudit_collector.analytics`, never computed anew in the browser.
"""
