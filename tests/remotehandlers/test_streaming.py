"""Worker transfers that stream from source to destination without staging files.

Against the real sshd hosts: the worker's disk is never used, the content is
byte-exact, and a source or destination dying mid-stream leaves nothing at
the final name, keeps the source, and a rerun succeeds.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from opentaskpy.fs import streaming
from opentaskpy.fs.streaming import SourceReadError, prefetched
from opentaskpy.taskhandlers.transfer import Transfer
from support.helpers import transfer_def, write_json
from support.ssh_helpers import (
    log_text,
    remote_dest,
    remote_source,
    run_killing_host,
)

MIB = 1024 * 1024


def sftp_source(ssh_env, directory: Path, regex: str) -> dict:
    """A source on the full-shell host ssh1, reached with the sftp protocol."""
    return remote_source(ssh_env, "ssh1", directory, regex) | {
        "protocol": ssh_env.protocol("ssh1") | {"name": "sftp"}
    }


def write_random(path: Path, size: int, ssh_env) -> bytes:
    payload = os.urandom(size)
    ssh_env.write_file(path, payload)
    return payload


def test_sftp_to_sftp_streams_and_never_touches_the_worker_disk(
    ssh_env, dirs, tmp_path, monkeypatch
):
    base = tmp_path / "staging-base"
    base.mkdir()
    monkeypatch.setenv("OTF_STAGING_DIR", str(base))
    payload = write_random(dirs["src"] / "big.bin", 24 * MIB + 12345, ssh_env)
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.extend(os.listdir(base))
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        definition = transfer_def(
            sftp_source(ssh_env, dirs["src"], r"big\.bin"),
            remote_dest(ssh_env, "sftp", dirs["dst"], mode="0640"),
        )
        assert Transfer(None, "stream-ok", definition).run() is True
    finally:
        stop.set()
        watcher.join()
    assert seen == []  # no staging directory was ever created
    out = dirs["dst"] / "big.bin"
    assert out.read_bytes() == payload
    assert oct(out.stat().st_mode & 0o777) == "0o640"
    assert os.listdir(dirs["dst"]) == ["big.bin"]
    assert "Streaming files from source to destination" in log_text("stream-ok")


def test_sftp_to_ssh_and_to_local_stream_too(ssh_env, dirs, tmp_path, monkeypatch):
    base = tmp_path / "staging-base"
    base.mkdir()
    monkeypatch.setenv("OTF_STAGING_DIR", str(base))
    payload = write_random(dirs["src"] / "f.bin", 3 * MIB + 1, ssh_env)
    local_dst = tmp_path / "local-dst"
    local_dst.mkdir()
    for task_id, dest in (
        ("stream-ssh", remote_dest(ssh_env, "ssh2", dirs["dst"])),
        ("stream-local", {"directory": str(local_dst), "protocol": {"name": "local"}}),
    ):
        definition = transfer_def(sftp_source(ssh_env, dirs["src"], r"f\.bin"), dest)
        assert Transfer(None, task_id, definition).run() is True
        assert "Streaming files from source to destination" in log_text(task_id)
    assert (dirs["dst"] / "f.bin").read_bytes() == payload
    assert (local_dst / "f.bin").read_bytes() == payload
    assert os.listdir(base) == []


def test_two_destinations_and_pgp_still_stage(ssh_env, dirs, tmp_path):
    write_random(dirs["src"] / "g.bin", MIB, ssh_env)
    second = ssh_env.make_dir(dirs["dst"].parent.name, "dst2")
    definition = transfer_def(
        sftp_source(ssh_env, dirs["src"], r"g\.bin"),
        remote_dest(ssh_env, "sftp", dirs["dst"]),
        remote_dest(ssh_env, "sftp", second),
    )
    assert Transfer(None, "stage-two", definition).run() is True
    assert "Streaming" not in log_text("stage-two")
    assert (second / "g.bin").read_bytes() == (dirs["dst"] / "g.bin").read_bytes()


@pytest.mark.parametrize("victim", ["ssh1", "sftp"], ids=["source", "destination"])
def test_a_host_dying_mid_stream_loses_nothing(
    ssh_env, dirs, task_run, cfg_dir, ssh_client_env, victim
):
    size = 160 * MIB
    big = dirs["src"] / "big.bin"
    with big.open("wb") as handle:
        for _ in range(size // MIB):
            handle.write(os.urandom(MIB))
    ssh_env.chown(big)
    definition = transfer_def(
        sftp_source(ssh_env, dirs["src"], r"big\.bin")
        | {"postCopyAction": {"action": "delete"}},
        remote_dest(ssh_env, "sftp", dirs["dst"]),
    )
    write_json(cfg_dir / "transfers" / "stream-fault.json", definition)
    env = {k: v for k, v in ssh_client_env.items() if k != "OTF_LOG_LEVEL"}
    result, killed = run_killing_host(
        lambda: task_run("-t", "stream-fault", "-c", cfg_dir, env=env),
        ssh_env.hosts[victim],
        dirs["dst"],
        after_bytes=2 * MIB,
    )
    assert killed
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert not (dirs["dst"] / "big.bin").exists()
    if victim == "ssh1":
        # The destination was still reachable: the partial file is gone too.
        assert os.listdir(dirs["dst"]) == []
    assert big.stat().st_size == size  # not deleted: the delivery failed
    rerun = task_run("-t", "stream-fault", "-c", cfg_dir, env=env)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert (dirs["dst"] / "big.bin").stat().st_size == size
    assert os.listdir(dirs["dst"]) == ["big.bin"]
    assert not big.exists()  # post-copy delete ran after the successful rerun


# -- the reader thread -----------------------------------------------------------


def test_prefetched_reads_ahead_only_up_to_its_limit():
    produced: list[int] = []

    def source():
        for i in range(100):
            produced.append(i)
            yield b"x" * 1000

    stream = prefetched(source(), "src:file", limit=5000)
    assert next(stream) == b"x" * 1000
    time.sleep(0.2)  # let the reader run as far as it may
    assert len(produced) <= 7  # 1 consumed + 5 buffered + 1 waiting to be put
    rest = list(stream)
    assert len(rest) == 99


def test_prefetched_raises_the_source_error_naming_the_file():
    def source():
        yield b"a"
        raise ConnectionResetError("peer went away")

    stream = prefetched(source(), "host1:/data/f.bin")
    assert next(stream) == b"a"
    with pytest.raises(SourceReadError, match=r"host1:/data/f\.bin.*peer went away"):
        next(stream)


def test_closing_early_stops_the_reader_and_closes_the_source():
    closed = threading.Event()

    def source():
        try:
            while True:
                yield b"y" * 4096
        finally:
            closed.set()

    before = threading.active_count()
    stream = prefetched(source(), "src:endless", limit=64 * 1024)
    next(stream)
    stream.close()
    assert closed.wait(5)
    assert threading.active_count() == before


# -- large files: the reader process ---------------------------------------------


def test_large_files_are_read_by_a_separate_process(ssh_env, dirs, monkeypatch):
    monkeypatch.setattr(streaming, "READER_PROCESS_MIN_BYTES", MIB)
    big = write_random(dirs["src"] / "big.bin", 5 * MIB + 3, ssh_env)
    small = write_random(dirs["src"] / "small.bin", 1000, ssh_env)
    definition = transfer_def(
        sftp_source(ssh_env, dirs["src"], r".*\.bin"),
        remote_dest(ssh_env, "sftp", dirs["dst"]),
    )
    assert Transfer(None, "stream-proc", definition).run() is True
    log = log_text("stream-proc")
    assert f"Reading {dirs['src']}/big.bin in a separate process" in log
    assert "small.bin in a separate process" not in log
    assert (dirs["dst"] / "big.bin").read_bytes() == big
    assert (dirs["dst"] / "small.bin").read_bytes() == small


def test_a_reader_process_failure_is_one_clear_line(ssh_env, dirs, monkeypatch):
    monkeypatch.setattr(streaming, "READER_PROCESS_MIN_BYTES", MIB)
    secret = dirs["src"] / "locked.bin"
    write_random(secret, 2 * MIB, ssh_env)
    secret.chmod(0o000)  # listed, but the test user cannot open it
    definition = transfer_def(
        sftp_source(ssh_env, dirs["src"], r"locked\.bin"),
        remote_dest(ssh_env, "sftp", dirs["dst"]),
    )
    with pytest.raises(Exception, match="Push of files to destination errored"):
        Transfer(None, "stream-denied", definition).run()
    log = log_text("stream-denied")
    assert f"Reading 127.0.0.1:{secret} failed: " in log
    assert "Permission denied" in log
    assert "Traceback" not in log
    assert os.listdir(dirs["dst"]) == []


def test_no_reader_process_falls_back_to_reading_in_process(ssh_env, dirs, monkeypatch):
    monkeypatch.setattr(streaming, "READER_PROCESS_MIN_BYTES", MIB)
    # The reader process cannot be started: its interpreter is gone.
    monkeypatch.setattr(sys, "executable", "/nonexistent/python3")
    payload = write_random(dirs["src"] / "big.bin", 3 * MIB, ssh_env)
    definition = transfer_def(
        sftp_source(ssh_env, dirs["src"], r"big\.bin"),
        remote_dest(ssh_env, "sftp", dirs["dst"]),
    )
    assert Transfer(None, "stream-fallback", definition).run() is True
    assert (dirs["dst"] / "big.bin").read_bytes() == payload
