"""The meter's book: bytes sent to browsers per (user, project, UTC day), and per notebook session.

Kept in a SQLite file in the hub's state folder (outside every sandbox), so a hub restart neither
resets a spent budget nor loses an open session's figures. The meter adds bytes in memory, which is
the figure every decision uses, and writes what changed to the file at most every
``flush_interval`` seconds and whenever a session ends; a hub killed hard forgets at most that
interval's bytes. The file has its own two tables, created on first use (it is not part of the
provisioning database, so it has no Alembic history).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import String, create_engine, event, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

CATEGORIES = ("contents", "workspaces", "kernel", "other")


class Base(DeclarativeBase):
    pass


class DailyUsage(Base):
    __tablename__ = "daily_usage"
    user: Mapped[str] = mapped_column(String(200), primary_key=True)
    project: Mapped[str] = mapped_column(String(200), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # ISO date, UTC
    bytes_sent: Mapped[int] = mapped_column(default=0)


class SessionRow(Base):
    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user: Mapped[str] = mapped_column(String(200), index=True)
    project: Mapped[str] = mapped_column(String(200), index=True)
    started: Mapped[str] = mapped_column(String(40))
    ended: Mapped[str | None] = mapped_column(String(40), default=None)
    contents: Mapped[int] = mapped_column(default=0)
    workspaces: Mapped[int] = mapped_column(default=0)
    kernel: Mapped[int] = mapped_column(default=0)
    kernel_messages: Mapped[int] = mapped_column(default=0)
    other: Mapped[int] = mapped_column(default=0)
    refused: Mapped[int] = mapped_column(default=0)


@dataclass
class SessionTotals:
    id: int
    started: str
    contents: int = 0
    workspaces: int = 0
    kernel: int = 0
    kernel_messages: int = 0
    other: int = 0
    refused: int = 0
    dirty: bool = field(default=False, repr=False)

    @property
    def total(self) -> int:
        return self.contents + self.workspaces + self.kernel + self.other

    def as_detail(self) -> dict[str, int | str]:
        out = {k: v for k, v in asdict(self).items() if k not in {"dirty", "id"}}
        out["session"] = self.id
        out["total"] = self.total
        return out


def utc_today() -> str:
    return dt.datetime.now(dt.timezone.utc).date().isoformat()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


class Ledger:
    """Daily budgets and session totals. One instance per hub process; not thread-safe beyond the
    flush lock (the meter runs on the hub's event loop)."""

    def __init__(self, path: Path, daily_bytes: int, today: Callable[[], str] = utc_today) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.daily_bytes = daily_bytes
        self.today = today
        self.engine = create_engine(f"sqlite:///{path}")
        event.listen(self.engine, "connect", lambda conn, _: conn.execute("PRAGMA journal_mode=WAL"))
        Base.metadata.create_all(self.engine)
        self._daily: dict[tuple[str, str, str], int] = {}
        self._dirty_days: set[tuple[str, str, str]] = set()
        self._sessions: dict[tuple[str, str], SessionTotals] = {}
        self._lock = threading.Lock()

    # ---- budget -------------------------------------------------------------------------------

    def used_today(self, user: str, project: str) -> int:
        key = (user, project, self.today())
        if key not in self._daily:
            with Session(self.engine) as s:
                row = s.get(DailyUsage, {"user": user, "project": project, "day": key[2]})
                self._daily[key] = row.bytes_sent if row else 0
        return self._daily[key]

    def remaining(self, user: str, project: str) -> int:
        return max(0, self.daily_bytes - self.used_today(user, project))

    def add(self, user: str, project: str, category: str, nbytes: int, messages: int = 0) -> None:
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}")
        self.used_today(user, project)
        key = (user, project, self.today())
        self._daily[key] += nbytes
        self._dirty_days.add(key)
        totals = self.session(user, project)
        setattr(totals, category, getattr(totals, category) + nbytes)
        totals.kernel_messages += messages
        totals.dirty = True

    def refused(self, user: str, project: str) -> int:
        """Count a refusal; returns the session's refusals so far."""
        totals = self.session(user, project)
        totals.refused += 1
        totals.dirty = True
        return totals.refused

    # ---- sessions -----------------------------------------------------------------------------

    def session(self, user: str, project: str) -> SessionTotals:
        """The open session of (user, project): resumed from the file after a restart, else new."""
        key = (user, project)
        if key in self._sessions:
            return self._sessions[key]
        with Session(self.engine) as s, s.begin():
            row = s.scalars(
                select(SessionRow).where(SessionRow.user == user, SessionRow.project == project, SessionRow.ended.is_(None)).order_by(SessionRow.id.desc())
            ).first()
            if row is None:
                row = SessionRow(user=user, project=project, started=_now())
                s.add(row)
                s.flush()
            totals = SessionTotals(
                id=row.id, started=row.started, contents=row.contents, workspaces=row.workspaces, kernel=row.kernel,
                kernel_messages=row.kernel_messages, other=row.other, refused=row.refused,
            )
        self._sessions[key] = totals
        return totals

    def end_session(self, user: str, project: str) -> dict[str, int | str]:
        """Close (user, project)'s session and return its figures (a session with no traffic is still
        a session: zero bytes is a figure too)."""
        totals = self.session(user, project)
        self.flush()
        with Session(self.engine) as s, s.begin():
            row = s.get(SessionRow, totals.id)
            if row is not None:
                row.ended = _now()
        self._sessions.pop((user, project), None)
        detail = totals.as_detail()
        detail["day_total"] = self.used_today(user, project)
        detail["daily_budget"] = self.daily_bytes
        return detail

    def flush(self) -> None:
        with self._lock, Session(self.engine) as s, s.begin():
            for key in list(self._dirty_days):
                user, project, day = key
                row = s.get(DailyUsage, {"user": user, "project": project, "day": day})
                if row is None:
                    s.add(DailyUsage(user=user, project=project, day=day, bytes_sent=self._daily[key]))
                else:
                    row.bytes_sent = self._daily[key]
            self._dirty_days.clear()
            for totals in self._sessions.values():
                if not totals.dirty:
                    continue
                row = s.get(SessionRow, totals.id)
                if row is not None:
                    for name in (*CATEGORIES, "kernel_messages", "refused"):
                        setattr(row, name, getattr(totals, name))
                totals.dirty = False
            # Yesterday's figures are in the file; keep memory bounded.
            today = self.today()
            for key in [k for k in self._daily if k[2] != today]:
                del self._daily[key]

    def close(self) -> None:
        self.flush()
        self.engine.dispose()
