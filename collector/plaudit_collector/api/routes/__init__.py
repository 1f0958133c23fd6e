"""One router per resource; :func:`plaudit_collector.app.create_app` mounts them all."""
