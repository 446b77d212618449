"""Several small files in flight at once over one SSH connection.

Each file is still published on its own (temporary name, size check,
rename), the post-copy action follows the last delivery, and one failing
file fails the run by name without leaving anything partial.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path

import pytest

from opentaskpy import exceptions
from opentaskpy.fs import inflight
from opentaskpy.fs.fileops import PARTIAL_SUFFIX
from opentaskpy.taskhandlers.transfer import Transfer
from support.helpers import local_source, transfer_def
from support.ssh_helpers import remote_dest, remote_source, sftp_filesystem

COUNT = 200


@pytest.fixture(autouse=True, params=["32", "1"], ids=["groups", "one-by-one"])
def _group_files(request, monkeypatch) -> None:
    """Every case runs with small files in groups and one by one."""
    monkeypatch.setenv("OTF_SFTP_GROUP_FILES", request.param)


def _content(number: int) -> bytes:
    # Different sizes, so a file cut short or swapped shows.
    return (f"file {number:03d} ".encode() * (number + 1))[: 4096 + number * 37]


def _fill(env, directory: Path) -> dict[str, bytes]:
    expected = {}
    for number in range(COUNT):
        name = f"small_{number:03d}.dat"
        expected[name] = _content(number)
        env.write_file(directory / name, expected[name])
    return expected


def _sftp_source(env, directory: Path, **extra: object) -> dict:
    proto = {**env.protocol("ssh1"), "name": "sftp"}
    return remote_source(
        env, "ssh1", directory, r"^small_\d+\.dat$", protocol=proto, **extra
    )


def _local_source(directory: Path, **extra: object) -> dict:
    return local_source(directory, r"^small_\d+\.dat$", **extra)


class Poller(threading.Thread):
    """Lists the destination (and source) over its own SFTP connection.

    Records every final-named entry whose size differs from what it should
    be, and whether the destination was complete whenever the source had
    already lost a file (the post-copy action had begun).
    """

    def __init__(self, env, dst: Path, src: Path, expected: dict[str, bytes]):
        super().__init__(daemon=True)
        self.env, self.dst, self.src, self.expected = env, dst, src, expected
        self.partial: list[tuple[str, int]] = []
        self.early_post_copy: list[int] = []
        self.polls = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with sftp_filesystem(self.env, "sftp") as fs:
            while not self.stop.is_set():
                # Source first: a file gone from it means the post-copy
                # action had begun, so the later listing must be complete.
                with contextlib.suppress(OSError):
                    source_names = {n for n, _ in fs.listdir_attr(str(self.src))}
                    entries = fs.listdir_attr(str(self.dst))
                    self.polls += 1
                    finals = {}
                    for name, st in entries:
                        if name in self.expected:
                            finals[name] = st.size
                            if st.size != len(self.expected[name]):
                                self.partial.append((name, st.size))
                    if len(source_names) < COUNT and len(finals) < COUNT:
                        self.early_post_copy.append(len(finals))


def _run_watched(env, definition, dst, src, expected, task_id):
    poller = Poller(env, dst, src, expected)
    poller.start()
    try:
        return Transfer(None, task_id, definition).run(), poller
    finally:
        poller.stop.set()
        poller.join()


def _assert_delivered(dst: Path, expected: dict[str, bytes]) -> None:
    names = sorted(p.name for p in dst.iterdir())
    assert names == sorted(expected)  # no temporary file left
    for name, data in expected.items():
        assert (dst / name).read_bytes() == data


@pytest.mark.parametrize("source_kind", ["sftp", "local"])
def test_many_files_four_in_flight_arrive_whole_then_post_copy(
    ssh_env, dirs, monkeypatch, source_kind
):
    monkeypatch.setenv(inflight.ENV, "4")
    expected = _fill(ssh_env, dirs["src"])
    action = {"action": "move", "destination": f"{dirs['archive']}/"}
    if source_kind == "sftp":
        source = _sftp_source(ssh_env, dirs["src"], postCopyAction=action)
    else:
        source = _local_source(dirs["src"], postCopyAction=action)
    definition = transfer_def(source, remote_dest(ssh_env, "sftp", dirs["dst"]))
    ok, poller = _run_watched(
        ssh_env, definition, dirs["dst"], dirs["src"], expected, f"fif-{source_kind}"
    )
    assert ok is True
    _assert_delivered(dirs["dst"], expected)
    assert poller.polls > 0
    assert poller.partial == []
    assert poller.early_post_copy == []
    assert list(dirs["src"].iterdir()) == []
    assert sorted(p.name for p in dirs["archive"].iterdir()) == sorted(expected)


def test_sftp_to_local_through_the_worker_four_in_flight(
    ssh_env, dirs, tmp_path, monkeypatch
):
    # Two destinations: the files are staged on the worker (downloaded
    # several at once), then pushed to each.
    monkeypatch.setenv(inflight.ENV, "4")
    expected = _fill(ssh_env, dirs["src"])
    local_dst = tmp_path / "local-dst"
    local_dst.mkdir()
    definition = transfer_def(
        _sftp_source(ssh_env, dirs["src"], postCopyAction={"action": "delete"}),
        {"directory": str(local_dst), "protocol": {"name": "local"}},
        remote_dest(ssh_env, "sftp", dirs["dst"]),
    )
    assert Transfer(None, "fif-worker", definition).run() is True
    _assert_delivered(local_dst, expected)
    _assert_delivered(dirs["dst"], expected)
    assert list(dirs["src"].iterdir()) == []


def test_sftp_to_local_stream_four_in_flight(ssh_env, dirs, tmp_path, monkeypatch):
    monkeypatch.setenv(inflight.ENV, "4")
    expected = _fill(ssh_env, dirs["src"])
    local_dst = tmp_path / "local-dst"
    local_dst.mkdir()
    definition = transfer_def(
        _sftp_source(ssh_env, dirs["src"]),
        {"directory": str(local_dst), "protocol": {"name": "local"}},
    )
    assert Transfer(None, "fif-stream-local", definition).run() is True
    _assert_delivered(local_dst, expected)


@pytest.mark.parametrize("source_kind", ["sftp", "local"])
def test_one_unwritable_name_fails_the_run_by_name_nothing_partial(
    ssh_env, dirs, monkeypatch, source_kind
):
    monkeypatch.setenv(inflight.ENV, "4")
    expected = _fill(ssh_env, dirs["src"])
    blocked = "small_057.dat"
    ssh_env.make_dir(*(dirs["dst"] / blocked).relative_to(ssh_env.home).parts)
    action = {"action": "delete"}
    if source_kind == "sftp":
        source = _sftp_source(ssh_env, dirs["src"], postCopyAction=action)
    else:
        source = _local_source(dirs["src"], postCopyAction=action)
    definition = transfer_def(source, remote_dest(ssh_env, "sftp", dirs["dst"]))
    with pytest.raises(exceptions.RemoteTransferError) as caught:
        Transfer(None, f"fif-fail-{source_kind}", definition).run()
    assert f"{dirs['dst']}/{blocked}" in str(caught.value)
    # No post-copy action: every source file is still there.
    assert sorted(p.name for p in dirs["src"].iterdir()) == sorted(expected)
    assert (dirs["dst"] / blocked).is_dir()
    for path in dirs["dst"].iterdir():
        assert not path.name.endswith(PARTIAL_SUFFIX)
        if path.name != blocked:
            assert path.read_bytes() == expected[path.name]


def test_run_each_keeps_count_files_in_flight_at_once():
    barrier = threading.Barrier(4, timeout=30)
    done: list[int] = []
    slots: set[int] = set()

    def work(item: int) -> None:
        if item < 4:
            barrier.wait()  # returns only when four items are in progress
        slots.add(inflight.current_slot())
        done.append(item)

    inflight.run_each(list(range(40)), work, 4)
    assert sorted(done) == list(range(40))
    assert slots == {0, 1, 2, 3}


def test_run_each_with_one_runs_in_order_in_the_calling_thread():
    seen: list[tuple[int, str]] = []
    inflight.run_each(
        [1, 2, 3], lambda i: seen.append((i, threading.current_thread().name)), 1
    )
    name = threading.current_thread().name
    assert seen == [(1, name), (2, name), (3, name)]


def test_run_each_raises_what_escapes_a_worker_and_stops_taking_files():
    taken: list[int] = []

    def work(item: int) -> None:
        taken.append(item)
        if item == 0:
            raise RuntimeError("boom")
        time.sleep(0.001)  # the others are still busy when item 0 fails

    with pytest.raises(RuntimeError, match="boom"):
        inflight.run_each(list(range(1000)), work, 2)
    assert len(taken) < 1000


@pytest.mark.parametrize(
    ("value", "count"), [("", 4), ("1", 1), ("6", 6), ("0", 1), ("99", 8), ("x", 4)]
)
def test_files_in_flight_from_the_environment(monkeypatch, value, count):
    monkeypatch.setenv(inflight.ENV, value)
    assert inflight.files_in_flight() == count


def test_a_value_that_is_not_a_number_is_named_in_a_warning(monkeypatch, caplog):
    monkeypatch.setenv(inflight.ENV, "many")
    logger = logging.getLogger("test-files-in-flight")
    with caplog.at_level(logging.WARNING, logger=logger.name):
        assert inflight.files_in_flight(logger) == inflight.DEFAULT
    assert f"{inflight.ENV}='many' is not a whole number: using 4" in caplog.text


def _record_slots(monkeypatch) -> set[int]:
    """The worker numbers that took a session of their own."""
    slots: set[int] = set()
    real_use = inflight.Channels.use

    def use(channels):
        slots.add(inflight.current_slot())
        return real_use(channels)

    monkeypatch.setattr(inflight.Channels, "use", use)
    return slots


def test_ssh_destination_receives_four_in_flight_then_post_copy(
    ssh_env, dirs, monkeypatch
):
    """Uploads from the worker to an SSH destination go several at once;
    each file still appears whole at its final name, and the source's
    post-copy action follows the last one."""
    monkeypatch.setenv(inflight.ENV, "4")
    slots = _record_slots(monkeypatch)
    expected = _fill(ssh_env, dirs["src"])
    action = {"action": "move", "destination": f"{dirs['archive']}/"}
    source = {**_local_source(dirs["src"]), "postCopyAction": action}
    definition = transfer_def(source, remote_dest(ssh_env, "ssh2", dirs["dst"]))
    ok, poller = _run_watched(
        ssh_env, definition, dirs["dst"], dirs["src"], expected, "fif-ssh"
    )
    assert ok is True
    assert len(slots) > 1  # several uploads were in flight
    _assert_delivered(dirs["dst"], expected)  # no receiving directory left
    assert poller.polls > 0
    assert poller.partial == []
    assert poller.early_post_copy == []
    assert sorted(p.name for p in dirs["archive"].iterdir()) == sorted(expected)


def test_ssh_destination_one_unreadable_file_fails_and_publishes_nothing(
    ssh_env, dirs, monkeypatch
):
    monkeypatch.setenv(inflight.ENV, "4")
    expected = _fill(ssh_env, dirs["src"])
    unreadable = dirs["src"] / "small_101.dat"
    unreadable.chmod(0)  # the transfer user cannot read it
    definition = transfer_def(
        _sftp_source(ssh_env, dirs["src"], postCopyAction={"action": "delete"}),
        remote_dest(ssh_env, "ssh2", dirs["dst"]),
    )
    with pytest.raises(exceptions.RemoteTransferError) as caught:
        Transfer(None, "fif-ssh-fail", definition).run()
    assert "small_101.dat" in str(caught.value)
    # Nothing published, nothing received left, every source file kept.
    assert list(dirs["dst"].iterdir()) == []
    assert sorted(p.name for p in dirs["src"].iterdir()) == sorted(expected)


def test_host_to_host_files_are_published_several_at_once_then_post_copy(
    ssh_env, dirs, monkeypatch, needs_host_to_host
):
    """One scp brings every file next to its final name; publishing them
    (size check, rename) goes several at once, each file whole, and the
    post-copy action follows the last."""
    monkeypatch.setenv(inflight.ENV, "4")
    slots = _record_slots(monkeypatch)
    expected = _fill(ssh_env, dirs["src"])
    action = {"action": "move", "destination": f"{dirs['archive']}/"}
    source = remote_source(
        ssh_env, "ssh1", dirs["src"], r"^small_\d+\.dat$", postCopyAction=action
    )
    definition = transfer_def(
        source, remote_dest(ssh_env, "ssh2", dirs["dst"], mode="0640")
    )
    ok, poller = _run_watched(
        ssh_env, definition, dirs["dst"], dirs["src"], expected, "fif-h2h"
    )
    assert ok is True
    assert len(slots) > 1
    _assert_delivered(dirs["dst"], expected)  # the receiving directory is gone
    for path in dirs["dst"].iterdir():
        assert path.stat().st_mode & 0o777 == 0o640
    assert poller.partial == []
    assert poller.early_post_copy == []
    assert sorted(p.name for p in dirs["archive"].iterdir()) == sorted(expected)
