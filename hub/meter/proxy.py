"""``MeteredProxy``: JupyterHub's configurable-http-proxy with the meter in front of every user server.

JupyterHub adds a route per ready server (``/user/<name>/<server>/`` → container). This class gives
configurable-http-proxy the meter's address as that route's target instead, and tells the meter the
container's address; the real target travels in the route's data, so JupyterHub's route check
(``check_routes``) still sees the container's address and a hub restart re-teaches the meter. Hub and
service routes are left alone. The meter runs on the hub's event loop, on loopback only.
"""

from __future__ import annotations

from pathlib import Path

from jupyterhub.proxy import ConfigurableHTTPProxy
from traitlets import Float, Int, Unicode, default

from hub.meter.app import Meter, current, set_current
from hub.meter.ledger import Ledger
from hub.policy import security_policy
from hub.settings import HubSettings

REAL_TARGET = "sandkasse_target"


class MeteredProxy(ConfigurableHTTPProxy):
    meter_ip = Unicode("127.0.0.1", help="Address the meter listens on (loopback: only the proxy calls it).").tag(config=True)
    meter_port = Int(0, help="Port of the meter; 0 picks a free one at start.").tag(config=True)
    ledger_file = Unicode(help="SQLite file with the meter's daily and session figures (outside every sandbox).").tag(config=True)
    audit_file = Unicode(help="The hub's audit file (refusals are recorded there).").tag(config=True)
    daily_bytes = Int(help="Browser read budget per (user, project, UTC day); default policy browser_reads.daily_bytes.").tag(config=True)
    max_response_bytes = Int(help="Largest single response; default policy browser_reads.max_response_bytes.").tag(config=True)
    flush_interval = Float(1.0, help="Seconds between writes of the meter's figures to its file.").tag(config=True)

    @default("ledger_file")
    def _ledger_file_default(self) -> str:
        return str(HubSettings().state_dir / "meter.sqlite")

    @default("audit_file")
    def _audit_file_default(self) -> str:
        return str(HubSettings().state_dir / "audit" / "hub.jsonl")

    @default("daily_bytes")
    def _daily_default(self) -> int:
        return security_policy().browser_reads.daily_bytes

    @default("max_response_bytes")
    def _max_response_default(self) -> int:
        return security_policy().browser_reads.max_response_bytes

    @property
    def meter(self) -> Meter:
        meter = current()
        if meter is None:
            meter = Meter(
                Ledger(Path(self.ledger_file), self.daily_bytes),
                max_response_bytes=self.max_response_bytes,
                audit_file=Path(self.audit_file),
                flush_interval=self.flush_interval,
            )
            meter.listen(self.meter_port, self.meter_ip)
            set_current(meter)
            self.log.info("meter listening on %s (daily budget %d bytes per user and project)", meter.url, self.daily_bytes)
        return meter

    async def start(self):
        self.meter  # noqa: B018  (listening before the first route arrives)
        return await super().start()

    async def add_route(self, routespec, target, data):
        data = dict(data or {})
        if data.get("user") and "service" not in data:
            meter = self.meter
            meter.add_route(routespec, target, user=data["user"], project=data.get("server_name") or "")
            data[REAL_TARGET] = target
            target = meter.url
        await super().add_route(routespec, target, data)

    async def delete_route(self, routespec):
        await super().delete_route(routespec)
        if current() is not None:
            current().remove_route(routespec)

    def _reformat_routespec(self, routespec, chp_data):
        route = super()._reformat_routespec(routespec, chp_data)
        real = route["data"].pop(REAL_TARGET, None)
        if real and route["target"] == self.meter.url:
            # The proxy sends this route to our meter: report the container, and make sure the meter
            # knows it (after a hub restart the proxy may keep routes the new meter has not seen).
            if routespec not in self.meter.routes:
                data = route["data"]
                self.meter.add_route(routespec, real, user=data.get("user", ""), project=data.get("server_name") or "")
            route["target"] = real
        elif "user" in route["data"] and "service" not in route["data"]:
            # The route bypasses this meter (an older meter's port, or added without a meter): report a
            # target that matches no server, so JupyterHub sees a mismatch and re-adds it through us.
            route["target"] = f"unmetered+{route['target']}"
        return route

    def stop(self):
        meter = current()
        if meter is not None:
            meter.ledger.flush()
        super().stop()
