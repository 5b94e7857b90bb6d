"""Counts what kernels send to the browser, per server session, and reports it in the server log.

Kernel output cannot be blocked (a notebook that prints data shows it), so its volume is recorded.
This counter runs inside the sandbox, where the kernel runs as the same user as the server and can
write any line to the log, so it is only a diagnostic (``sandkasse-output-volume {json}`` lines in the
container log). The audited figure and the daily browser budget come from the hub's meter on the host
(:mod:`hub.meter`), which the container cannot reach.
"""

from __future__ import annotations

import json
import os
import time

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

LOG_PREFIX = "sandkasse-output-volume "


class OutputTotals:
    """Process-wide totals; one notebook server serves one (user, project) session."""

    bytes_sent = 0
    messages_sent = 0
    started = time.time()
    _last_logged = -1

    @classmethod
    def add(cls, nbytes: int) -> None:
        cls.bytes_sent += nbytes
        cls.messages_sent += 1

    @classmethod
    def line(cls) -> str:
        return LOG_PREFIX + json.dumps(
            {
                "user": os.environ.get("SANDKASSE_USER", ""),
                "project": os.environ.get("SANDKASSE_PROJECT", ""),
                "bytes": cls.bytes_sent,
                "messages": cls.messages_sent,
                "since": int(cls.started),
            },
            sort_keys=True,
        )


class CountingWebsocketConnection(ZMQChannelsWebsocketConnection):
    def handle_outgoing_message(self, stream, outgoing_msg) -> None:
        channel = stream if isinstance(stream, str) else getattr(stream, "channel", None)
        if channel == "iopub":
            OutputTotals.add(sum(len(part) for part in outgoing_msg))
        super().handle_outgoing_message(stream, outgoing_msg)
        if OutputTotals.messages_sent % 200 == 1 or channel != "iopub":
            self._log_totals()

    def _log_totals(self) -> None:
        if OutputTotals.bytes_sent != OutputTotals._last_logged:
            OutputTotals._last_logged = OutputTotals.bytes_sent
            self.log.info(OutputTotals.line())
