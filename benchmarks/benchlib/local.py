"""Workloads that need no SSH host: local-big, batches, startup."""

from __future__ import annotations

import json
import re
import shutil

from benchlib.context import BATCH_ENV, Context, expect_text, python_exe
from benchlib.core import (
    Case,
    Verdict,
    Workload,
    absolute_target,
    both_medians,
    throughput_target,
    time_ratio_target,
)
from benchlib.data import DataFile, reset_dir, size_label
from benchlib.measure import Sample

CHAIN_LEN = 20
MARKER = re.compile(r"__OTF_BATCH_TASK_MARKER__: ORDER_ID::(\d+)::TASK::\S+::(\w+)")


def local_big(ctx: Context, data: DataFile) -> Workload:
    """One big file local → local through ``task-run``; limit ``cp``."""
    base = ctx.root / "local-big"
    src = base / "src"
    data.place(src, "big.bin")
    dst_ours, dst_limit = base / "dst-ours", base / "dst-limit"
    tid = ctx.task(
        "local-big",
        {
            "type": "transfer",
            "source": {
                "directory": str(src),
                "fileRegex": r"^big\.bin$",
                "protocol": {"name": "local"},
            },
            "destination": [
                {"directory": str(dst_ours), "protocol": {"name": "local"}}
            ],
        },
    )

    ours = ctx.transfer_case(
        tid, "local-big", dst_ours, lambda s: data.verify(dst_ours / "big.bin")
    )
    limit = Case(
        ["cp", str(src / "big.bin"), str(dst_limit / "big.bin")],
        prepare=lambda: _reset(dst_limit),
        verify=lambda s: data.verify(dst_limit / "big.bin"),
    )
    return Workload(
        f"local-big {size_label(data.size)}",
        ours,
        limit,
        throughput_target(0.9),
        payload_bytes=data.size,
    )


def _reset(directory) -> None:
    reset_dir(directory)


def _batch_verifier(ctx: Context, label: str, count: int):
    def verify(sample: Sample) -> str | None:
        done = {
            int(m.group(1))
            for m in MARKER.finditer(ctx.log_text(label))
            if m.group(2) == "COMPLETED"
        }
        if len(done) != count:
            return f"{len(done)} of {count} steps logged COMPLETED"
        return None

    return verify


def batch_case(
    ctx: Context, label: str, tasks: list[dict], extra_env: dict | None = None
) -> Case:
    """A batch of ``tasks`` as a case, verified by its COMPLETED markers."""
    tid = ctx.task(label, {"type": "batch", "tasks": tasks})
    return Case(
        ctx.task_run(tid),
        env=ctx.env_for(label, {**BATCH_ENV, **(extra_env or {})}),
        cwd=ctx.root,
        prepare=lambda: ctx.wipe_logs(label),
        verify=_batch_verifier(ctx, label, len(tasks)),
        timeout=600,
    )


def exec_task(ctx: Context, task_id: str, command: str) -> str:
    """Write a local execution of ``command``; return its task id."""
    return ctx.task(
        task_id,
        {
            "type": "execution",
            "directory": str(ctx.root),
            "command": command,
            "protocol": {"name": "local"},
        },
    )


def sh_loop(count: int) -> Case:
    """The limit of ``count`` steps: ``sh -c true`` that many times."""
    return Case(
        ["sh", "-c", f"i=0; while [ $i -lt {count} ]; do sh -c true; i=$((i+1)); done"]
    )


def flow_fields(order_id: int) -> dict:
    """Flow-control fields that change nothing in a run of succeeding steps.

    Two retries that never fire, a ``skip_if`` that is false (it reads the
    previous step's outcome, as a real condition would), a ``check`` that
    passes, and the dependency on the previous step as an object.
    """
    previous = order_id - 1
    fields: dict = {
        "retries": 2,
        "retry_delay": 0,
        "skip_if": (
            f"steps[{previous}].outcome == 'failure'"
            if previous
            else "steps | length == 0"
        ),
        "check": "step.outcome == 'success'",
    }
    if previous:
        fields["dependencies"] = [{"order_id": previous, "on": "success"}]
    return fields


def chain_steps(task_id: str, count: int, flow: bool = False) -> list[dict]:
    """``count`` steps of ``task_id``, each depending on the previous one.

    With ``flow`` every step also carries :func:`flow_fields`.
    """
    steps = []
    for i in range(1, count + 1):
        step: dict = {"order_id": i, "task_id": task_id}
        if flow:
            step.update(flow_fields(i))
        elif i > 1:
            step["dependencies"] = [i - 1]
        steps.append(step)
    return steps


def fan_steps(task_id: str, count: int, flow: bool = False) -> list[dict]:
    """``count`` independent steps of ``task_id`` (with ``flow``: the fields too).

    A fan has no dependencies, so ``flow`` adds the retries and conditions
    of :func:`flow_fields` without the dependency objects.
    """
    steps = chain_steps(task_id, count, flow)
    for step in steps:
        step.pop("dependencies", None)
    return steps


def batch_chain(ctx: Context) -> Workload:
    """20 dependent local ``true`` executions; limit 20 × ``sh -c true``.

    Overhead per hop = (t(chain of 20) − t(chain of 1)) / 19 − t(limit) / 20:
    the slope between the two chain lengths removes the fixed start-up cost
    of ``task-run`` so only what each dependency hop adds is left.
    """
    chain = chain_steps(exec_task(ctx, "exec-true", "true"), CHAIN_LEN)
    wl = Workload(
        "batch-chain",
        batch_case(ctx, "batch-chain", chain),
        sh_loop(CHAIN_LEN),
        _chain_eval,
        extras={"chain-1": batch_case(ctx, "batch-chain-1", chain[:1])},
    )
    return wl


def chain_hop(wl: Workload, long: str = "ours", one: str = "chain-1") -> float | None:
    """Overhead per hop in seconds of a chain case, or ``None`` if a side failed.

    (t(``long``) − t(``one``)) / (CHAIN_LEN − 1) − t(limit) / CHAIN_LEN, with
    ``long`` the chain of CHAIN_LEN steps and ``one`` the same chain's first step.
    """
    cases = wl.stats(long), wl.stats(one), wl.stats("limit")
    medians = [c.median() for c in cases]
    if not all(c.ok for c in cases) or None in medians:
        return None
    m_long, m_one, m_limit = (float(m) for m in medians)  # type: ignore[arg-type]
    return (m_long - m_one) / (CHAIN_LEN - 1) - m_limit / CHAIN_LEN


def _chain_eval(wl: Workload) -> Verdict:
    target = "< 0.050 s overhead per hop"
    per_hop = chain_hop(wl)
    both = both_medians(wl)
    if per_hop is None or both is None:
        return Verdict(None, "time ratio", target, None, "a side FAILED")
    m1 = wl.stats("chain-1").median()
    return Verdict(
        both[0] / both[1],
        "time ratio",
        target,
        per_hop < 0.050,
        f"overhead/hop {per_hop * 1000:.1f} ms (chain-1 median {m1:.3f} s)",
    )


def batch_fan(ctx: Context, sleep: float) -> Workload:
    """20 independent steps; proves parallelism and the concurrency cap.

    Extra cases: 20 × ``sleep`` uncapped (serial would take 20 × sleep) and
    the same with ``OTF_BATCH_MAX_CONCURRENCY=5`` (must take ≥ 4 × sleep).
    """
    true_id = exec_task(ctx, "exec-true", "true")
    sleep_id = exec_task(ctx, "exec-sleep", f"sleep {sleep}")
    fan = fan_steps(true_id, CHAIN_LEN)
    fan_sleep = fan_steps(sleep_id, CHAIN_LEN)
    extras = {
        "sleep-uncapped": batch_case(ctx, "batch-fan-sleep", fan_sleep),
        "sleep-cap5": batch_case(
            ctx, "batch-fan-sleep-cap5", fan_sleep, {"OTF_BATCH_MAX_CONCURRENCY": "5"}
        ),
    }
    wl = Workload(
        "batch-fan",
        batch_case(ctx, "batch-fan", fan),
        sh_loop(CHAIN_LEN),
        lambda w: _fan_eval(w, sleep),
        extras=extras,
    )
    return wl


def _fan_eval(wl: Workload, sleep: float) -> Verdict:
    serial = CHAIN_LEN * sleep
    target = (
        f"sleep-fan < {serial / 4:g} s (serial {serial:g} s); cap 5 >= {4 * sleep:g} s"
    )
    ours, limit = wl.stats("ours"), wl.stats("limit")
    free, capped = wl.stats("sleep-uncapped"), wl.stats("sleep-cap5")
    if not all(s.ok for s in (ours, limit, free, capped)):
        return Verdict(None, "time ratio", target, None, "a side FAILED")
    mo, ml, mf, mc = ours.median(), limit.median(), free.median(), capped.median()
    assert mo is not None and ml is not None and mf is not None and mc is not None
    parallel = mf < serial / 4
    cap_ok = mc >= 4 * sleep
    note = f"sleep-fan {mf:.2f} s, cap-5 {mc:.2f} s"
    if not parallel:
        note += "; NOT parallel"
    if not cap_ok:
        note += "; cap NOT honoured"
    return Verdict(mo / ml, "time ratio", target, parallel and cap_ok, note)


def startup(ctx: Context, n_vars: int, cache: bool = True) -> Workload:
    """``task-run --noop`` of a transfer; limit ``python -c pass``.

    With ``cache=False`` the validation cache is off, so every run imports
    jsonschema and validates (a first run, or a definition that changes).
    """
    label = "startup-small" if n_vars <= 100 else f"startup-{n_vars}vars"
    if not cache:
        label += "-nocache"
    cfg = ctx.root / f"cfg-{label}"
    cfg.mkdir(exist_ok=True)
    variables: dict[str, str] = {"SRC_DIR": str(ctx.root), "DST_DIR": str(ctx.root)}
    for i in range(n_vars - len(variables)):
        # One in ten references another variable, as real files do.
        variables[f"VAR_{i:05d}"] = (
            f"{{{{ VAR_{i - 1:05d} }}}}-{i}" if i % 10 == 9 else f"value-{i}"
        )
    (cfg / "variables.json.j2").write_text(json.dumps(variables, indent=1))
    tid = ctx.task(
        "noop-transfer",
        {
            "type": "transfer",
            "source": {
                "directory": "{{ SRC_DIR }}",
                "fileRegex": r"^nothing\.txt$",
                "protocol": {"name": "local"},
            },
            "destination": [
                {"directory": "{{ DST_DIR }}", "protocol": {"name": "local"}}
            ],
        },
        cfg=cfg,
    )
    ours = Case(
        ctx.task_run(tid, cfg, "--noop"),
        env=ctx.env_for(label, None if cache else {"OTF_VALIDATION_CACHE": "0"}),
        cwd=ctx.root,
        prepare=lambda: ctx.wipe_logs(label),
        verify=lambda s: expect_text(s, "Noop set, exiting"),
    )
    limit = Case([python_exe(), "-c", "pass"])
    target = 0.4 if n_vars <= 100 else 1.5
    return Workload(label, ours, limit, absolute_target(target))


def startup_sftp(ctx: Context, cold: bool = False) -> Workload:
    """``task-run --noop`` of a small SFTP transfer; limit ``python -c pass``.

    ``--noop`` loads, renders and validates the definition and stops before
    any connection, so no sshd is needed. With ``cold=True`` the validation
    cache directory is removed before every run: the first run of a new
    definition (validates with jsonschema, then writes the cache entry).
    """
    label = "startup-sftp-cold" if cold else "startup-sftp"
    cfg = ctx.root / "cfg-startup-sftp"
    cfg.mkdir(exist_ok=True)
    (cfg / "variables.json.j2").write_text(json.dumps({"SRC_DIR": str(ctx.root)}))
    protocol = {
        "name": "sftp",
        "port": 2222,
        "credentials": {"username": "otf", "keyFile": str(ctx.root / "id_rsa")},
    }
    tid = ctx.task(
        "noop-sftp",
        {
            "type": "transfer",
            "source": {
                "hostname": "127.0.0.1",
                "directory": "{{ SRC_DIR }}",
                "fileRegex": r"^nothing\.txt$",
                "protocol": protocol,
            },
            "destination": [
                {"hostname": "127.0.0.3", "directory": "/tmp", "protocol": protocol}
            ],
        },
        cfg=cfg,
    )
    cache_dir = ctx.root / f"validation-cache-{label}"

    def prepare() -> None:
        ctx.wipe_logs(label)
        if cold:
            shutil.rmtree(cache_dir, ignore_errors=True)

    ours = Case(
        ctx.task_run(tid, cfg, "--noop"),
        env=ctx.env_for(label, {"OTF_VALIDATION_CACHE_DIR": str(cache_dir)}),
        cwd=ctx.root,
        prepare=prepare,
        verify=lambda s: expect_text(s, "Noop set, exiting"),
    )
    limit = Case([python_exe(), "-c", "pass"])
    evaluate = absolute_target(0.6) if cold else time_ratio_target(4.5)
    return Workload(label, ours, limit, evaluate)
