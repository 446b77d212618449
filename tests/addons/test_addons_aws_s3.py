"""otf-addons-aws S3 transfers against moto's server, via the API and the CLI."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from opentaskpy import exceptions
from opentaskpy.config.loader import ConfigLoader
from opentaskpy.config.schemas import validate_transfer_json
from opentaskpy.taskhandlers.batch import Batch
from opentaskpy.taskhandlers.transfer import Transfer
from support.helpers import write_json

S3 = {"name": "opentaskpy.addons.aws.remotehandlers.s3.S3Transfer"}
LOCAL = {"name": "local"}


@pytest.fixture(autouse=True)
def _info_level(caplog: pytest.LogCaptureFixture) -> None:
    # Loggers take the root's level (spec: init_logging level sync); INFO
    # makes the addon's messages reach the task log file in-process.
    caplog.set_level(logging.INFO)


def _task_log(task_id: str, task_type: str = "T") -> str:
    logs = sorted(Path("logs", task_id).glob(f"*_{task_type}*.log"))
    assert logs, f"no {task_type} log for {task_id}: {list(Path('logs').rglob('*'))}"
    return "".join(p.read_text() for p in logs)


def test_local_to_s3_watch_rename_flag_and_delete(aws, tmp_path: Path) -> None:
    bucket = aws.bucket()
    src = tmp_path / "src"
    src.mkdir()
    (src / "report.txt").write_text("local data")
    definition = {
        "type": "transfer",
        "source": {
            "directory": str(src),
            "fileRegex": r"report\.txt",
            "fileWatch": {"timeout": 2},
            "postCopyAction": {"action": "delete"},
            "protocol": LOCAL,
        },
        "destination": [
            {
                "bucket": bucket,
                "directory": "incoming",
                "rename": {"pattern": r"\.txt$", "sub": ".csv"},
                "flags": {"fullPath": "incoming/report.flg"},
                "protocol": S3,
            }
        ],
    }
    assert validate_transfer_json(definition)
    assert Transfer(None, "l2s3", definition).run() is True
    assert aws.keys(bucket) == ["incoming/report.csv", "incoming/report.flg"]
    assert aws.read(bucket, "incoming/report.csv") == b"local data"
    assert not (src / "report.txt").exists()
    assert "Transferring file" in _task_log("l2s3")  # addon logs reach the task log


def test_s3_to_local_conditionals_and_move(aws, tmp_path: Path) -> None:
    bucket = aws.bucket()
    aws.put(bucket, "out/big.dat", b"x" * 100)
    aws.put(bucket, "out/small.dat", b"x")
    aws.put(bucket, "out/other.txt", b"ignored")
    dest = tmp_path / "dest"
    dest.mkdir()
    definition = {
        "type": "transfer",
        "source": {
            "bucket": bucket,
            "directory": "out",
            "fileRegex": r".*\.dat",
            "fileWatch": {"timeout": 2},
            "conditionals": {"size": {"gt": 10}, "age": {"lt": 3600}},
            "postCopyAction": {"action": "move", "destination": "archive/"},
            "protocol": S3,
        },
        "destination": [
            {
                "directory": str(dest),
                "flags": {"fullPath": str(dest / "ok.flg")},
                "protocol": LOCAL,
            }
        ],
    }
    assert validate_transfer_json(definition)
    assert Transfer(None, "s3tol", definition).run() is True
    assert sorted(p.name for p in dest.iterdir()) == ["big.dat", "ok.flg"]
    assert (dest / "big.dat").read_bytes() == b"x" * 100
    assert aws.keys(bucket) == ["archive/big.dat", "out/other.txt", "out/small.dat"]


def test_s3_file_watch_times_out(aws) -> None:
    bucket = aws.bucket()
    definition = {
        "type": "transfer",
        "source": {
            "bucket": bucket,
            "directory": "none",
            "fileRegex": "x",
            "fileWatch": {"timeout": 1},
            "protocol": S3,
        },
        "destination": [{"directory": "/tmp", "protocol": LOCAL}],
    }
    with pytest.raises(
        exceptions.RemoteFileNotFoundError, match="No valid files found after"
    ):
        Transfer(None, "s3watch", definition).run()


def test_s3_to_s3_direct_copy_with_rename(aws) -> None:
    src, dst = aws.bucket("src"), aws.bucket("dst")
    aws.put(src, "a/file1.txt", "one")
    definition = {
        "type": "transfer",
        "source": {
            "bucket": src,
            "directory": "a",
            "fileRegex": r"file1\.txt",
            "postCopyAction": {
                "action": "rename",
                "destination": "done/",
                "pattern": "file1",
                "sub": "file1-sent",
            },
            "protocol": S3,
        },
        "destination": [
            {
                "bucket": dst,
                "directory": "b",
                "rename": {"pattern": "file1", "sub": "renamed"},
                "protocol": S3,
            },
        ],
    }
    assert validate_transfer_json(definition)
    transfer = Transfer(None, "s3tos3", definition)
    assert transfer.run() is True
    assert aws.keys(dst) == ["b/renamed.txt"]
    assert aws.read(dst, "b/renamed.txt") == b"one"
    assert aws.keys(src) == ["done/file1-sent.txt"]
    assert "from " + src + " to " + dst in _task_log("s3tos3")  # server-side copy


def test_s3_to_s3_proxy_goes_through_worker(aws) -> None:
    src, dst = aws.bucket("src"), aws.bucket("dst")
    aws.put(src, "p/data.bin", b"\x00\x01proxy")
    definition = {
        "type": "transfer",
        "source": {
            "bucket": src,
            "directory": "p",
            "fileRegex": "data",
            "protocol": S3,
        },
        "destination": [
            {"bucket": dst, "directory": "q", "transferType": "proxy", "protocol": S3}
        ],
    }
    assert Transfer(None, "s3proxy", definition).run() is True
    assert aws.read(dst, "q/data.bin") == b"\x00\x01proxy"
    assert "Downloading file: p/data.bin" in _task_log("s3proxy")


def test_invalid_destination_bucket_raises_remote_transfer_error(aws) -> None:
    src = aws.bucket("src")
    aws.put(src, "x/f.txt", "data")
    definition = {
        "type": "transfer",
        "source": {"bucket": src, "directory": "x", "fileRegex": "f", "protocol": S3},
        "destination": [
            {
                "bucket": "no-such-bucket-here",
                "directory": "y",
                "transferType": "proxy",
                "protocol": S3,
            }
        ],
    }
    with pytest.raises(exceptions.RemoteTransferError):
        Transfer(None, "s3baddest", definition).run()
    assert aws.keys(src) == ["x/f.txt"]  # nothing lost at the source


def test_missing_source_bucket_client_error_propagates(aws) -> None:
    definition = {
        "type": "transfer",
        "source": {"bucket": "no-such-source-bucket", "fileRegex": "f", "protocol": S3},
        "destination": [{"directory": "/tmp", "protocol": LOCAL}],
    }
    with pytest.raises(ClientError):
        Transfer(None, "s3nosrc", definition).run()


def test_handlers_get_task_id_and_no_destination_is_none(aws) -> None:
    bucket = aws.bucket()
    definition = {
        "type": "transfer",
        "source": {"bucket": bucket, "fileRegex": ".*", "protocol": S3},
    }
    transfer = Transfer(None, "s3handlers", definition)
    transfer._set_remote_handlers()
    handler = transfer.source_remote_handler
    assert type(handler).__name__ == "S3Transfer"
    assert handler.spec is definition["source"]
    assert handler.spec["task_id"] == "s3handlers"
    assert transfer.dest_remote_handlers is None


def test_s3_transfer_inside_batch_api(aws, cfg_dir: Path, tmp_path: Path) -> None:
    bucket = aws.bucket()
    aws.put(bucket, "in/batch.txt", "batched")
    dest = tmp_path / "bdest"
    dest.mkdir()
    write_json(
        cfg_dir / "s3-pull.json",
        {
            "type": "transfer",
            "source": {
                "bucket": bucket,
                "directory": "in",
                "fileRegex": "batch",
                "protocol": S3,
            },
            "destination": [{"directory": str(dest), "protocol": LOCAL}],
        },
    )
    write_json(
        cfg_dir / "s3-batch.json",
        {
            "type": "batch",
            "tasks": [{"order_id": 1, "task_id": "s3-pull", "timeout": 60}],
        },
    )
    os.environ["OTF_BATCH_POLL_INTERVAL"] = "0.1"
    loader = ConfigLoader(str(cfg_dir))
    batch = Batch(None, "s3-batch", loader.load_task_definition("s3-batch"), loader)
    assert batch.run() is True
    assert (dest / "batch.txt").read_text() == "batched"


def test_cli_local_to_s3_and_batch(
    aws, task_run, cfg_dir: Path, tmp_path: Path
) -> None:
    bucket = aws.bucket()
    src = tmp_path / "clisrc"
    src.mkdir()
    (src / "cli.txt").write_text("from the cli")
    write_json(
        cfg_dir / "cli-push.json",
        {
            "type": "transfer",
            "source": {"directory": str(src), "fileRegex": "cli", "protocol": LOCAL},
            "destination": [{"bucket": bucket, "directory": "d", "protocol": S3}],
        },
    )
    write_json(
        cfg_dir / "cli-pull.json",
        {
            "type": "transfer",
            "source": {
                "bucket": bucket,
                "directory": "d",
                "fileRegex": "cli",
                "fileWatch": {"timeout": 2},
                "protocol": S3,
            },
            "destination": [{"directory": str(tmp_path / "back"), "protocol": LOCAL}],
        },
    )
    (tmp_path / "back").mkdir()
    write_json(
        cfg_dir / "cli-batch.json",
        {
            "type": "batch",
            "tasks": [
                {"order_id": 1, "task_id": "cli-push"},
                {"order_id": 2, "task_id": "cli-pull", "dependencies": [1]},
            ],
        },
    )
    env = {**aws.env, "OTF_BATCH_POLL_INTERVAL": "0.1"}
    result = task_run("-t", "cli-batch", "-c", cfg_dir, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert aws.read(bucket, "d/cli.txt") == b"from the cli"
    assert (tmp_path / "back" / "cli.txt").read_text() == "from the cli"


def test_cli_s3_watch_timeout_exits_1(aws, task_run, cfg_dir: Path) -> None:
    bucket = aws.bucket()
    write_json(
        cfg_dir / "cli-wait.json",
        {
            "type": "transfer",
            "source": {
                "bucket": bucket,
                "fileRegex": "never",
                "fileWatch": {"timeout": 1},
                "protocol": S3,
            },
            "destination": [{"directory": "/tmp", "protocol": LOCAL}],
        },
    )
    result = task_run("-t", "cli-wait", "-c", cfg_dir, env=aws.env, timeout=60)
    assert result.returncode == 1
    assert "No valid files found after" in result.stdout + result.stderr
    assert list(Path("logs/cli-wait").glob("*_T_failed.log"))


def test_s3_execution_writes_a_flag_object(aws) -> None:
    """S3Execution (the aws addon's flag-file "execution") through our API."""
    from opentaskpy.taskhandlers.execution import Execution

    bucket = aws.bucket()
    definition = {
        "type": "execution",
        "bucket": bucket,
        "key": "flags/done.flg",
        "protocol": {"name": "opentaskpy.addons.aws.remotehandlers.s3.S3Execution"},
    }
    assert Execution(None, "s3-exec-flag", definition).run() is True
    head = aws.client("s3").head_object(Bucket=bucket, Key="flags/done.flg")
    assert head["ContentLength"] == 0


def test_fargate_execution_constructs_and_tidies(aws) -> None:
    import importlib

    module = importlib.import_module("opentaskpy.addons.aws.remotehandlers.ecsfargate")
    handler = module.FargateTaskExecution(
        {
            "type": "execution",
            "clusterName": "c",
            "taskFamily": "f",
            "protocol": {
                "name": "opentaskpy.addons.aws.remotehandlers.ecsfargate."
                "FargateTaskExecution"
            },
            "task_id": "fargate-build",
        }
    )
    assert handler.spec["task_id"] == "fargate-build"
    assert handler.logger.name.endswith(".fargate-build")
    assert handler.ecs_client is not None
    handler.tidy()
