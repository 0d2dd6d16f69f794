"""sgibridge: run WSGI apps on ASGI servers and ASGI apps on WSGI servers.

- :class:`WSGIToASGI` (alias :data:`WSGIMiddleware`) is an ASGI 3 app that
  runs a WSGI app in bounded worker threads.
- :class:`ASGIToWSGI` (alias :data:`ASGIMiddleware`) is a WSGI app that runs
  an ASGI app on a per-process event loop.

The aliases carry the names that a2wsgi, Starlette and Uvicorn users import,
so switching is a one-line change.
"""

from ._asgi_to_wsgi import ASGIToWSGI as ASGIToWSGI
from ._body_input import BodyTooLarge as BodyTooLarge
from ._exceptions import ASGIProtocolError as ASGIProtocolError
from ._exceptions import ClientDisconnected as ClientDisconnected
from ._exceptions import ProtocolError as ProtocolError
from ._exceptions import SGIBridgeError as SGIBridgeError
from ._exceptions import WSGIProtocolError as WSGIProtocolError
from ._version import __version__ as __version__
from ._wsgi_to_asgi import FileWrapper as FileWrapper
from ._wsgi_to_asgi import WSGIToASGI as WSGIToASGI

#: The same object as :class:`ASGIToWSGI`, under a2wsgi's name.
ASGIMiddleware = ASGIToWSGI
#: The same object as :class:`WSGIToASGI`, under a2wsgi's and Starlette's name.
WSGIMiddleware = WSGIToASGI

__all__ = (
    "ASGIMiddleware",
    "ASGIProtocolError",
    "ASGIToWSGI",
    "BodyTooLarge",
    "ClientDisconnected",
    "FileWrapper",
    "ProtocolError",
    "SGIBridgeError",
    "WSGIMiddleware",
    "WSGIProtocolError",
    "WSGIToASGI",
    "__version__",
)

# Reprs and tracebacks show ``sgibridge.X``, not a private module path.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj
