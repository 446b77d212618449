"""Scale rows against the loopback ``sshd`` hosts (see remote.py)."""

from __future__ import annotations

import shlex
from typing import Any

from benchlib.context import Context
from benchlib.core import Case, Workload
from benchlib.listing import BigDirectory, listing_workload
from benchlib.remote import _sftp_proto, _ssh_opts


def listing_sftp(
    ctx: Context, env: Any, big: BigDirectory, small: BigDirectory
) -> Workload:
    """SFTP source (ssh1) of the matches → local; limit ``sftp -b get glob``.

    Both sides list the whole directory over SFTP (``READDIR``) and fetch
    the few names that match; the source directory is the cached one,
    readable by the test user. The ``small-dir`` extras do the same on a
    directory of only the matches (see :func:`listing.listing_eval`).
    """
    return listing_workload("sftp", big, small, lambda tag, d: _cases(ctx, env, tag, d))


def _cases(ctx: Context, env: Any, tag: str, big: BigDirectory) -> tuple[Case, Case]:
    s1 = env.hosts["ssh1"]
    dst_ours, dst_limit = ctx.root / tag / "dst-ours", ctx.root / tag / "dst-limit"
    tid = ctx.task(
        tag,
        {
            "type": "transfer",
            "source": {
                "hostname": s1.address,
                "directory": str(big.dir),
                "fileRegex": big.regex,
                "protocol": _sftp_proto(env, "ssh1"),
            },
            "destination": [
                {"directory": str(dst_ours), "protocol": {"name": "local"}}
            ],
        },
    )
    batch = ctx.root / f"{tag}-get.batch"
    batch.write_text(f"get {big.dir}/{big.glob} {dst_limit}/\n")
    script = (
        f"sftp {shlex.join(_ssh_opts(env))} -P {s1.port} "
        f"-b {shlex.quote(str(batch))} {env.user}@{s1.address} >/dev/null"
    )
    return ctx.transfer_vs_shell(tid, tag, (dst_ours, dst_limit), script, big.verify)
