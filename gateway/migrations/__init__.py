"""Alembic migrations of the gateway store (run by :mod:`gateway._migrate`; see ``env.py``)."""
