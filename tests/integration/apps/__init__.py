"""Apps served by real servers in the integration tests.

Servers started by ``servers.serve()`` have ``tests/integration`` first on ``PYTHONPATH``, so a
module here is the target ``apps.<module>:<attr>``.
"""
