"""batch-chain-flow and batch-fan-flow: the batch rows with flow control on.

The same chain and fan as batch-chain and batch-fan (built by the same
functions), with every step carrying retries that never fire, a false
``skip_if``, a passing ``check`` and (in the chain) dependency objects. Each
row also measures the plain batch as an extra case, so the cost the fields
add is a difference within one run, on one machine state.
"""

from __future__ import annotations

from benchlib.context import Context
from benchlib.core import Verdict, Workload
from benchlib.local import (
    CHAIN_LEN,
    batch_case,
    chain_hop,
    chain_steps,
    exec_task,
    fan_steps,
    sh_loop,
)

#: Most the flow fields may add per hop (chain) or per step (fan).
ADDED_MAX_S = 0.010
TARGET = f"< {ADDED_MAX_S * 1000:.0f} ms per hop added"


def batch_chain_flow(ctx: Context) -> Workload:
    """20 dependent ``true`` steps with flow fields; the plain chain as extras."""
    true_id = exec_task(ctx, "exec-true", "true")
    flow, plain = chain_steps(true_id, CHAIN_LEN, True), chain_steps(true_id, CHAIN_LEN)
    extras = {
        "chain-1": batch_case(ctx, "batch-chain-flow-1", flow[:1]),
        "plain": batch_case(ctx, "batch-chain-flow-plain", plain),
        "plain-1": batch_case(ctx, "batch-chain-flow-plain-1", plain[:1]),
    }
    return Workload(
        "batch-chain-flow",
        batch_case(ctx, "batch-chain-flow", flow),
        sh_loop(CHAIN_LEN),
        _chain_flow_eval,
        extras=extras,
    )


def _chain_flow_eval(wl: Workload) -> Verdict:
    hop = chain_hop(wl)
    plain_hop = chain_hop(wl, "plain", "plain-1")
    limit = wl.stats("limit").median()
    ours = wl.stats("ours").median()
    if hop is None or plain_hop is None or not limit or ours is None:
        return Verdict(None, "time ratio", TARGET, None, "a side FAILED")
    added = hop - plain_hop
    cpu = (_cpu(wl, "ours") - _cpu(wl, "chain-1")) - (
        _cpu(wl, "plain") - _cpu(wl, "plain-1")
    )
    note = (
        f"overhead/hop {hop * 1000:.1f} ms (plain {plain_hop * 1000:.1f} ms, "
        f"{added * 1000:+.1f} ms); CPU {cpu / (CHAIN_LEN - 1) * 1000:+.1f} ms/hop"
    )
    return Verdict(ours / limit, "time ratio", TARGET, added < ADDED_MAX_S, note)


def batch_fan_flow(ctx: Context) -> Workload:
    """20 independent ``true`` steps with flow fields; the plain fan as an extra."""
    true_id = exec_task(ctx, "exec-true", "true")
    return Workload(
        "batch-fan-flow",
        batch_case(ctx, "batch-fan-flow", fan_steps(true_id, CHAIN_LEN, True)),
        sh_loop(CHAIN_LEN),
        _fan_flow_eval,
        extras={
            "plain": batch_case(
                ctx, "batch-fan-flow-plain", fan_steps(true_id, CHAIN_LEN)
            )
        },
    )


def _fan_flow_eval(wl: Workload) -> Verdict:
    target = TARGET.replace("hop", "step")
    ours, plain, limit = (wl.stats(k) for k in ("ours", "plain", "limit"))
    mo, mp, ml = ours.median(), plain.median(), limit.median()
    if not (ours.ok and plain.ok and limit.ok) or mo is None or mp is None or not ml:
        return Verdict(None, "time ratio", target, None, "a side FAILED")
    added = (mo - mp) / CHAIN_LEN
    cpu = (_cpu(wl, "ours") - _cpu(wl, "plain")) / CHAIN_LEN
    note = (
        f"{mo / CHAIN_LEN * 1000:.1f} ms/step (plain {mp / CHAIN_LEN * 1000:.1f} "
        f"ms, {added * 1000:+.1f} ms); CPU {cpu * 1000:+.1f} ms/step"
    )
    return Verdict(mo / ml, "time ratio", target, added < ADDED_MAX_S, note)


def _cpu(wl: Workload, key: str) -> float:
    """Median CPU seconds of a case: less disturbed by other load than wall time."""
    return wl.stats(key).cpu_median() or 0.0
