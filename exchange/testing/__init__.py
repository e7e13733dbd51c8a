"""Harness for running the project's services for real, shared by the tests and the benchmarks (and usable by an
integrator's own tests): ``processes`` starts ``ptx serve ...`` on free loopback ports, waits for health and stops
them; ``postgres`` starts a throwaway PostgreSQL server. Not part of the library: nothing in ``exchange/_*.py``
imports it."""
