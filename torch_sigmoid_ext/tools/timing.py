"""The one timing harness of the tools: every speed figure they print comes from measure() and
speedup().

The callables compared (ours, torch's, and a roofline where the mode has one) are timed in
interleaved samples, ours, torch, roof, ours, torch, roof, ..., so that drift on a shared
machine hits all of them alike, and a ratio is taken sample by sample. On the CPU a sample is
time.perf_counter() around a loop of calls; on a GPU it is a pair of CUDA events around the
same loop, on the current stream. Each sample repeats the call enough times to last about
min_time. A ratio the samples cannot pin down is "noisy", and printed as that, not as a figure.

torch.utils.benchmark is not used: importing it imports torch.utils.cpp_extension, which logs
a warning about CUDA_HOME on a machine with nvcc and a CPU-only torch.
"""

import contextlib
import os
import statistics
import time
from typing import NamedTuple

import torch

# Where a ratio is too noisy to print (see speedup()).
NOISY_SPREAD = 0.25
NOISY_SLOWDOWN = 1.5
NOISY_CPU_WAIT = 0.2
NOISY_RULE = (f"the samples disagree (spread above {NOISY_SPREAD:.0%}) or the machine was "
              f"busy: either side's median time over {NOISY_SLOWDOWN:g} times its fastest "
              f"sample, or this process's threads waiting for a CPU over {NOISY_CPU_WAIT:.0%} "
              "of the time (Linux)")


def _synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn, device, number):
    """Seconds per call of fn over `number` calls in a row."""
    if device.type == "cuda":
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        start.record()
        for _ in range(number):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) * 1e-3 / number  # elapsed_time is in milliseconds
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def calls_per_sample(fn, device, min_time):
    """How many calls of fn last about min_time: after a first call (which may compile or
    allocate), one more is timed alone."""
    fn()
    _synchronize(device)
    start = time.perf_counter()
    fn()
    _synchronize(device)
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, int(min_time / once))


def cpu_wait():
    """Seconds this process's threads have spent runnable but waiting for a CPU, from Linux's
    schedstat; None where the system does not say."""
    try:
        thread_ids = os.listdir("/proc/self/task")
    except OSError:
        return None
    total = 0
    for thread_id in thread_ids:
        try:
            with open(f"/proc/self/task/{thread_id}/schedstat") as schedstat:
                total += int(schedstat.read().split()[1])
        except OSError:  # the thread has exited
            continue
        except (IndexError, ValueError):
            return None
    return total * 1e-9


def measure(fns, device, samples, min_time, context=contextlib.nullcontext, best_of=1,
            alternate=False):
    """Seconds per call of each of fns, `samples` values each, interleaved; and the share of
    the time this process's threads spent waiting for a CPU (None where unknown).

    context is entered around each timed loop (not each call). Each value is the best of
    best_of timings. alternate reverses the order of fns every other sample, so that neither
    side always runs on the cache or clock state the other left.
    """
    with context():
        numbers = [calls_per_sample(fn, device, min_time) for fn in fns]
    times = [[] for _ in fns]
    threads = torch.get_num_threads() if device.type == "cpu" else 1
    before, start = cpu_wait(), time.perf_counter()
    for sample in range(samples):
        order = list(range(len(fns)))
        if alternate and sample % 2:
            order.reverse()
        for index in order:
            with context():
                times[index].append(min(time_calls(fns[index], device, numbers[index])
                                        for _ in range(best_of)))
    after, elapsed = cpu_wait(), time.perf_counter() - start
    if before is None or after is None:
        return times, None
    return times, (after - before) / (elapsed * threads)


def spread(values):
    """The interquartile range of values over their median."""
    if len(values) < 2:
        return 0.0
    quartiles = statistics.quantiles(values, n=4)
    return (quartiles[2] - quartiles[0]) / statistics.median(values)


class Ratio(NamedTuple):
    value: float  # the median over the samples of numerator / denominator
    spread: float  # the ratios' interquartile range over their median
    noisy: bool  # too noisy to quote: see speedup()


def speedup(baseline, ours, wait=None):
    """baseline's time over ours, sample by sample, as a Ratio.

    measure() times the two back to back in each sample, so a ratio per sample cancels most of
    the drift of a shared machine. noisy: the samples disagree (spread above NOISY_SPREAD), or
    the machine was busy: either side's median time is above NOISY_SLOWDOWN times its fastest
    sample, or wait (from measure()) is above NOISY_CPU_WAIT. A machine busy for most samples
    makes both sides wait for the scheduler alike, and their ratios then agree on a
    meaningless 1.00x.
    """
    ratios = [base / mine for base, mine in zip(baseline, ours)]
    ratio_spread = spread(ratios)
    slowdown = max(statistics.median(times) / min(times) for times in (baseline, ours))
    busy = slowdown > NOISY_SLOWDOWN or (wait or 0.0) > NOISY_CPU_WAIT
    return Ratio(statistics.median(ratios), ratio_spread, ratio_spread > NOISY_SPREAD or busy)


def format_ratio(value, noisy, digits=2, suffix="x"):
    return "noisy" if noisy else f"{value:.{digits}f}{suffix}"
