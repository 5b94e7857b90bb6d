"""The hub's metering reverse proxy between configurable-http-proxy and the notebook containers:
Content-Security-Policy on every notebook response, a daily browser read budget per (user, project),
and the per-session figures the hub audits (see :mod:`hub.meter.app`)."""
