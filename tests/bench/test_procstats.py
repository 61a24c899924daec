"""The /proc readers of the benchmark suite: stat and status parsing, process trees, roles."""

import os
import time
from pathlib import Path

from bench._procstats import (
    ProcessWatch,
    descendants,
    parse_stat,
    parse_status,
    read_sample,
)

# A process whose name holds a space and parentheses, as /proc shows it.
STAT = (
    "4242 (python (x) y) S 17 4242 17 0 -1 4194560 2000 0 0 0 "
    "150 25 0 0 20 0 3 0 1000 400000000 12000 18446744073709551615"
)
STATUS = "Name:\tpython\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t3\n"


def test_parse_stat_reads_name_parent_and_cpu_ticks() -> None:
    """The name spans up to the last parenthesis; CPU is utime + stime."""
    assert parse_stat(STAT) == ("python (x) y", 17, 175)


def test_parse_status_reads_rss_and_peak_in_kib() -> None:
    """VmRSS and VmHWM come back in KiB."""
    assert parse_status(STATUS) == (102400, 204800)


def test_parse_status_of_a_kernel_thread_is_zero() -> None:
    """A process without memory lines (kernel thread, zombie) reads as 0, 0."""
    assert parse_status("Name:\tkthreadd\nState:\tS (sleeping)\n") == (0, 0)


def test_read_sample_of_this_process_and_of_a_missing_one() -> None:
    """Our own process is read from /proc; a pid that does not exist gives None."""
    sample = read_sample(os.getpid())
    assert sample is not None
    assert sample.rss_kib > 0
    assert read_sample(2**22 + 12345) is None


def test_read_sample_from_a_fake_proc(tmp_path: Path) -> None:
    """A /proc-like directory is read the same way."""
    (tmp_path / "4242").mkdir()
    (tmp_path / "4242" / "stat").write_text(STAT)
    (tmp_path / "4242" / "status").write_text(STATUS)
    sample = read_sample(4242, tmp_path)
    assert sample is not None
    assert (sample.comm, sample.ppid, sample.cpu_ticks, sample.rss_kib) == (
        "python (x) y",
        17,
        175,
        102400,
    )


def test_descendants_walk_the_whole_tree(tmp_path: Path) -> None:
    """Children and grandchildren are found, unrelated processes are not."""
    for pid, ppid in ((10, 1), (11, 10), (12, 11), (13, 1)):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(f"{pid} (p) S {ppid} " + "0 " * 20)
    assert sorted(descendants(10, tmp_path)) == [10, 11, 12]


def test_watch_counts_cpu_used_during_the_phase_and_peak_rss() -> None:
    """CPU burnt inside the watched phase shows in the role; memory is positive."""
    with ProcessWatch({"me": lambda: [os.getpid()], "nobody": list}, every_s=0.05) as watch:
        end = time.process_time() + 0.2
        while time.process_time() < end:
            pass
    me = watch.usage["me"]
    assert me.cpu_s >= 0.1
    assert 0 < me.cpu_share <= 1.5
    assert me.rss_mib_peak > 1
    assert me.processes == 1
    assert watch.usage["nobody"].processes == 0
