"""Notifications by e-mail and webhook, delivered at least once from a database outbox.

:mod:`.outbox` writes messages in the transaction of the state change they announce; :mod:`.sender`
claims due rows with a lease, sends them through :mod:`.channels` and marks them sent.
"""
