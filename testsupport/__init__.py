"""Test infrastructure shared by every suite: PostgreSQL and Redis for tests, and real server processes.

`testsupport.services` is the pytest plugin (`-p testsupport.services`); the other modules are the
pieces it is made of, usable on their own.
"""
