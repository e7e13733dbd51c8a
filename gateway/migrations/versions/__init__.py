"""Revisions of the gateway store's schema, oldest first; each file is frozen once released."""
