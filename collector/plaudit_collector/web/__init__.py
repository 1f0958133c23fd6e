"""The review workspace: static pages served by the collector (an HTML shell, ES modules, CSS, vendored uPlot).

The pages compute nothing the REST API does not return: every number they show comes from ``/v1/...``, called
from the browser with the reviewer's API key. Nothing here is built; the files ship as they are.
"""
