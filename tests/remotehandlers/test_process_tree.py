from opentaskpy.remotehandlers.process_tree import (
    descendants,
    kill_command,
    kill_targets,
    parse_ps,
)

PS = """UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init
app          100       1  0 10:00 ?        00:00:00 sh -c echo hi; sleep 300
app          101     100  0 10:00 ?        00:00:00 sleep 300
app          102     100  0 10:00 ?        00:00:00 bash child.sh
app          103     102  0 10:00 ?        00:00:00 sleep 600 with args
app          200       1  0 10:00 ?        00:00:00 unrelated
app          201     200  0 10:00 ?        00:00:00 unrelated child
"""


def test_parse_ps_skips_header():
    parents = parse_ps(PS)
    assert parents[101] == 100
    assert parents[103] == 102
    assert "PID" not in str(list(parents))
    assert len(parents) == 7


def test_descendants_walks_recursively_and_excludes_others():
    assert descendants(PS, 100) == [101, 102, 103]
    assert descendants(PS, 103) == []


def test_descendants_never_returns_init_and_survives_cycles():
    cyclic = "u 5 6 0 a b c x\nu 6 5 0 a b c y\nu 1 5 0 a b c init\n"
    assert descendants(cyclic, 5) == [6]


def test_kill_targets_appends_pid_last():
    assert kill_targets(PS, 100) == [101, 102, 103, 100]


def test_kill_command_refuses_zero_and_one():
    assert kill_command([1]) is None
    assert kill_command([0, 1]) is None
    assert kill_command([]) is None
    assert kill_command([1, 101, 100]) == "kill 101 100"
    assert kill_command([5], "KILL") == "kill -KILL 5"
