"""``deliverOnce``: a polling transfer never sends the same source file twice."""

from __future__ import annotations

import os
from pathlib import Path

from support.helpers import local_transfer, write_json
from support.ledger_helpers import file_states, ledger_rows


def test_deliver_once_sends_each_file_version_once(
    cfg_dir: Path, tmp_path: Path, task_run
) -> None:
    src, d1 = tmp_path / "src", tmp_path / "d1"
    src.mkdir()
    d1.mkdir()
    (src / "a.txt").write_text("alpha")
    (src / "b.txt").write_text("bravo")
    write_json(
        cfg_dir / "poll.json", local_transfer(src, r".*\.txt", d1, deliverOnce=True)
    )
    db = tmp_path / "runs.db"

    def run(**extra: str) -> None:
        result = task_run(
            "-t", "poll", "-c", cfg_dir, env={"OTF_RUNS_DB": str(db), **extra}
        )
        assert result.returncode == 0, result.stderr

    run()
    first = file_states(d1)
    assert set(first) == {"a.txt", "b.txt"}

    # The consumer took a.txt away; nothing is sent again (not even a.txt).
    (d1 / "a.txt").unlink()
    run()
    assert file_states(d1) == {"b.txt": first["b.txt"]}

    # A new file goes; the others stay as they are.
    (src / "c.txt").write_text("charlie")
    run()
    assert set(file_states(d1)) == {"b.txt", "c.txt"}
    assert file_states(d1)["b.txt"] == first["b.txt"]

    # Same path, size and mtime but other content: the sha256 tells them apart.
    stat = (src / "b.txt").stat()
    (src / "b.txt").write_text("BRAVO")
    os.utime(src / "b.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    run()
    assert (d1 / "b.txt").read_text() == "BRAVO"
    assert not (d1 / "a.txt").exists()

    # The documented override sends everything again.
    run(OTF_RESEND="1")
    assert {p.name for p in d1.iterdir()} == {"a.txt", "b.txt", "c.txt"}

    delivered = [r for r in ledger_rows(db) if r["outcome"] == "delivered"]
    sent = sorted(Path(r["source_path"]).name for r in delivered)
    assert sent == ["a.txt", "a.txt", "b.txt", "b.txt", "b.txt", "c.txt", "c.txt"]
