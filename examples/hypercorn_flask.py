"""Serve the example Flask app on Hypercorn through sgibridge.

Run it::

    python examples/hypercorn_flask.py
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from hypercorn.asyncio import serve
from hypercorn.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from examples.flask_app import asgi_app


def main() -> None:
    config = Config()
    config.bind = ["127.0.0.1:8000"]
    asyncio.run(serve(asgi_app, config))


if __name__ == "__main__":
    main()
