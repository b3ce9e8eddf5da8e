"""Run one ffmpeg process: progress from -progress on stdout, a tail of stderr, and
no child left behind whatever interrupts the caller."""

from __future__ import annotations

import collections
import contextlib
import ctypes
import ctypes.util
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

TAIL_LINES = 20
TERMINATE_GRACE_S = 3.0
_END = -1.0  # queue marker: ffmpeg closed stdout
# Lines that carry no news about a failure and would push real errors out of the tail.
_NOISE = ("deprecated pixel format used",)

_PR_SET_PDEATHSIG = 1
# Loaded now: in the forked child before exec only this call may run.
_prctl = getattr(ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True), "prctl", None)


@dataclass(frozen=True)
class Finished:
    returncode: int
    out_time_s: float  # the last position ffmpeg reported writing
    stderr_tail: list[str]


def _die_with_parent() -> None:
    # If the worker is SIGKILLed (Celery's hard time limit) ffmpeg goes too.
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def run_ffmpeg(
    argv: Sequence[str],
    *,
    total_s: float,
    on_progress: Callable[[float], None] | None = None,
    timeout_s: float | None = None,
    ceiling: float = 1.0,
) -> Finished:
    """Run `argv` (which writes `-progress pipe:1`) to its end and report
    on_progress(fraction of total_s written, at most `ceiling`), rising, in the
    calling thread.

    Whatever is raised here -- by on_progress, by a signal handler such as Celery's
    soft time limit, or TimeoutError after timeout_s -- stops ffmpeg (terminate, then
    kill) before it propagates.
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a terminal's Ctrl-C reaches us, and we stop ffmpeg
        preexec_fn=_die_with_parent,  # only a prctl call, see _die_with_parent
    )
    assert proc.stdout is not None and proc.stderr is not None
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    times: queue.Queue[float] = queue.Queue()
    readers = [
        threading.Thread(target=_read_progress, args=(proc.stdout, times), daemon=True),
        threading.Thread(target=_read_stderr, args=(proc.stderr, tail), daemon=True),
    ]
    for reader in readers:
        reader.start()
    out_time = 0.0
    reported = 0.0
    try:
        while True:
            wait = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if wait <= 0:
                raise TimeoutError(f"ffmpeg ran longer than {timeout_s:g} s")
            try:
                seconds = times.get(timeout=wait)
            except queue.Empty:
                continue
            if seconds == _END:
                break
            out_time = max(out_time, seconds)
            fraction = min(ceiling, out_time / total_s) if total_s > 0 else 0.0
            if on_progress is not None and fraction > reported:
                reported = fraction
                on_progress(fraction)
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            returncode = proc.wait(timeout=remaining)
        except subprocess.TimeoutExpired as error:
            raise TimeoutError(f"ffmpeg ran longer than {timeout_s:g} s") from error
    except BaseException:
        stop(proc)
        raise
    finally:
        for reader in readers:
            reader.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
    return Finished(returncode=returncode, out_time_s=out_time, stderr_tail=list(tail))


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (ffmpeg closes its files), SIGKILL if it has not gone after a grace."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(timeout=TERMINATE_GRACE_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    proc.wait()


def _read_progress(stream: IO[bytes], times: queue.Queue[float]) -> None:
    try:
        for raw in stream:
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            # out_time_ms is in microseconds too (a long-standing ffmpeg quirk).
            if key in ("out_time_us", "out_time_ms") and value.lstrip("-").isdigit():
                times.put(max(0, int(value)) / 1e6)
    except (OSError, ValueError):
        pass  # the pipe closed under us: the process is being stopped
    finally:
        times.put(_END)


def _read_stderr(stream: IO[bytes], tail: collections.deque[str]) -> None:
    # Always drained, so ffmpeg never blocks on a full pipe.
    with contextlib.suppress(OSError, ValueError):
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip()
            if line and not any(noise in line for noise in _NOISE):
                tail.append(line)


UNTRANSCODABLE = "The video could not be transcoded."
# stderr fragments -> what to tell a person; the first that matches wins.
_REASONS = (
    ("No space left on device", "The worker ran out of disk space."),
    ("Cannot allocate memory", "The worker ran out of memory."),
    (
        "Invalid data found when processing input",
        "The video could not be decoded; the file is damaged.",
    ),
    ("partial file", "The file is incomplete or damaged."),
    ("Decoder (codec", "The video uses a codec we cannot decode."),
)


def failure_reason(returncode: int, tail: list[str]) -> str:
    """What to tell a person about an ffmpeg that exited with `returncode`."""
    text = "\n".join(tail)
    for fragment, reason in _REASONS:
        if fragment in text:
            return reason
    if returncode < 0:
        return f"The transcoder was stopped by signal {-returncode}."
    # ffmpeg's own words name paths and internals: they stay in the error's detail.
    return UNTRANSCODABLE
