"""Routing of a shared connection's paramiko lines to the steps using it.

Records are logged for real on the route's channel, from real threads; the
receiving loggers' own handlers collect what reaches them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from opentaskpy.transport.ssh.sshlogroute import LogRoute
from support.logcapture import Collect


@pytest.fixture
def steps() -> Iterator[dict[str, Collect]]:
    """Task loggers ``route.a``/``route.b`` (DEBUG) and ``route.batch`` (INFO)."""
    collected = {}
    for name, level in (("a", logging.DEBUG), ("b", logging.DEBUG)):
        logging.getLogger(f"route.{name}").setLevel(level)
    logging.getLogger("route.batch").setLevel(logging.INFO)
    for name in ("a", "b", "batch"):
        collected[name] = Collect()
        logging.getLogger(f"route.{name}").addHandler(collected[name])
    yield collected
    for name in ("a", "b", "batch"):
        logging.getLogger(f"route.{name}").removeHandler(collected[name])


def _in_thread(action) -> None:  # noqa: ANN001
    thread = threading.Thread(target=action)
    thread.start()
    thread.join(timeout=30)


def _joined_elsewhere(route: LogRoute, channel: str) -> tuple[object, threading.Event]:
    """Join ``route`` from a thread that stays alive until the event is set."""
    joined, done, user = threading.Event(), threading.Event(), []

    def hold() -> None:
        user.append(route.join(channel))
        joined.set()
        done.wait(timeout=30)

    threading.Thread(target=hold, daemon=True).start()
    assert joined.wait(timeout=30)
    return user[0], done


def _messages(collect: Collect) -> list[tuple[str, str]]:
    return [(r.name, r.getMessage()) for r in collect.records]


def test_lines_go_to_their_step_else_to_every_user_else_to_the_batch(steps):
    route = LogRoute("route.batch.paramiko.transport")
    channel = logging.getLogger(route.channel)
    channel.info("idle")
    user_a, done_a = _joined_elsewhere(route, "route.a.paramiko.transport")
    user_b = route.join("route.b.paramiko.transport")  # this thread's
    channel.debug("from b's thread")
    _in_thread(lambda: channel.debug("from the transport thread"))
    logging.getLogger(f"{route.channel}.sftp").info("sftp of b")
    route.leave(user_a)  # type: ignore[arg-type]
    done_a.set()
    route.leave(user_b)
    channel.debug("closing, below the batch's level")
    channel.warning("closed")

    a, b = "route.a.paramiko.transport", "route.b.paramiko.transport"
    assert _messages(steps["a"]) == [(a, "from the transport thread")]
    assert _messages(steps["b"]) == [
        (b, "from b's thread"),
        (b, "from the transport thread"),
        (f"{b}.sftp", "sftp of b"),
    ]
    batch = "route.batch.paramiko.transport"
    assert _messages(steps["batch"]) == [(batch, "idle"), (batch, "closed")]


def test_the_channel_lets_through_what_its_most_verbose_user_writes(steps):
    route = LogRoute("route.batch.paramiko.transport")
    channel = logging.getLogger(route.channel)
    assert channel.level == logging.INFO
    user = route.join("route.a.paramiko.transport")
    assert channel.level == logging.DEBUG
    route.leave(user)
    assert channel.level == logging.INFO
    assert not channel.propagate  # nothing written under the channel's own name


def test_a_user_whose_thread_ended_is_no_thread_of_its_own(steps):
    route = LogRoute("route.batch.paramiko.transport")
    users = []
    _in_thread(lambda: users.append(route.join("route.a.paramiko.transport")))
    users.append(route.join("route.b.paramiko.transport"))
    # A new thread may get the ended thread's id: its lines still go to all.
    _in_thread(lambda: logging.getLogger(route.channel).info("transport"))
    for user in users:
        route.leave(user)
    assert _messages(steps["a"]) == [("route.a.paramiko.transport", "transport")]
    assert _messages(steps["b"]) == [("route.b.paramiko.transport", "transport")]
