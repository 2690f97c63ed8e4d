"""The user's tools at the top of the house: the ``modelserve`` command (serve, publish, send,
route, retire, status, learn, demo) and the generators of the JSON Schemas."""
