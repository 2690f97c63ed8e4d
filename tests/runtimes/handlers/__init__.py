"""Python handlers for the PYTHON runtime's tests, of both forms, and ones that misbehave
(raise, hang, answer the wrong number or shape of results, fail to import). The tests allow
this package (MODELSERVE_PYTHON_HANDLERS=tests.runtimes.handlers)."""
