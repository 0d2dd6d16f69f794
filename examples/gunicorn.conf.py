# ruff: noqa: N999 - gunicorn looks for this file name.
"""Gunicorn settings for ``examples/fastapi_gunicorn.py``.

``sgibridge serve examples.fastapi_gunicorn:app --server gunicorn -c examples/gunicorn.conf.py``
passes it to Gunicorn, which reads it as Python; every name below is one of its
settings. (``wsgi_app`` names the already-wrapped app, for Gunicorn on its own.)
"""

wsgi_app = "examples.fastapi_gunicorn:wsgi_app"
bind = "127.0.0.1:8000"
workers = 2
# Threads let one worker serve a slow or streaming response and other requests at once.
worker_class = "gthread"
threads = 4
# ASGIToWSGI waits for the app's lifespan shutdown when a worker exits.
graceful_timeout = 10
