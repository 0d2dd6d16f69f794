# ruff: noqa: N999 - gunicorn looks for this file name.
"""Gunicorn settings for ``examples/fastapi_gunicorn.py``: ``gunicorn -c examples/gunicorn.conf.py``.

Gunicorn reads this file as Python; every name below is one of its settings.
"""

wsgi_app = "examples.fastapi_gunicorn:wsgi_app"
bind = "127.0.0.1:8000"
workers = 2
# Threads let one worker serve a slow or streaming response and other requests at once.
worker_class = "gthread"
threads = 8
# ASGIToWSGI waits for the app's lifespan shutdown when a worker exits.
graceful_timeout = 10
