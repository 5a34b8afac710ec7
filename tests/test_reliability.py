"""Concurrency and memory: many Python threads at once, torch.set_num_threads, DataLoader worker
processes (fork and spawn), and no growth in memory over many calls."""

import gc
import os
import subprocess
import sys
import threading
import time
import weakref

import psutil
import pytest
import torch

import torch_sigmoid_ext as tse

ops = torch.ops.torch_sigmoid_ext

# Sizes on both sides of the kernels' grain size (32768): the larger ones split across the
# intra-op threads while other Python threads call in.
SIZES = [1, 7, 64, 1000, 40000, 70001]
DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16, torch.complex64]


def _inputs(seed):
    g = torch.Generator().manual_seed(seed)
    dtype = DTYPES[seed % len(DTYPES)]
    n = SIZES[seed % len(SIZES)]
    x = (torch.randn(n, generator=g, dtype=torch.float64) * 8).to(dtype)
    grad = torch.randn(n, generator=g, dtype=torch.float64).to(dtype)
    return x, grad


def _all_results(x, grad):
    """Every entry point once: no-grad forward, out=, in place, autograd forward and backward."""
    y = tse.sigmoid(x)
    out = torch.empty_like(x)
    tse.sigmoid(x, out=out)
    inplace = x.clone()
    tse.sigmoid_(inplace)
    xr = x.clone().requires_grad_()
    (gx,) = torch.autograd.grad(tse.sigmoid(xr), xr, grad)
    return [y, out, inplace, gx, ops.sigmoid_backward(grad, y)]


def _bitwise_equal(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(
        a.view(torch.uint8), b.view(torch.uint8)
    )


def test_threads_give_the_serial_results():
    n_threads, calls_per_thread = 8, 300  # x 5 entry points: 12,000 op calls in all
    cases = [_inputs(seed) for seed in range(n_threads * 7)]
    expected = [_all_results(x, g) for x, g in cases]
    failures, errors = [], []
    start = threading.Barrier(n_threads)

    def worker(t):
        try:
            start.wait()
            for i in range(calls_per_thread):
                k = (t * 7 + i) % len(cases)  # threads overlap on inputs as well as in time
                for got, want in zip(_all_results(*cases[k]), expected[k]):
                    if not _bitwise_equal(got, want):
                        failures.append((t, i, k))
        except Exception as e:  # noqa: BLE001  (reported below, with the thread)
            errors.append((t, repr(e)))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert not failures, failures[:10]
    # The inputs were only read.
    for (x, g), (x2, g2) in zip(cases, [_inputs(seed) for seed in range(n_threads * 7)]):
        assert torch.equal(x, x2) and torch.equal(g, g2)


def _cpu_seconds_by_thread():
    return {t.id: t.user_time + t.system_time for t in psutil.Process().threads()}


def _run_and_measure(fn, repeats):
    before = _cpu_seconds_by_thread()
    for _ in range(repeats):
        fn()
    after = _cpu_seconds_by_thread()
    main = threading.get_native_id()
    used = {tid: after[tid] - before.get(tid, 0.0) for tid in after}
    return used.pop(main, 0.0), sum(used.values())


@pytest.mark.skipif(os.cpu_count() < 2, reason="needs 2 CPU cores for a 2-thread pool")
def test_set_num_threads_is_honoured():
    # Which threads did the work, from the kernel's CPU time per thread: with one intra-op
    # thread everything runs on the caller's; with two the pool's worker takes a share.
    # This measures where the work ran, not how fast.
    x = torch.randn(1 << 21)
    g = torch.randn(1 << 21)
    old = torch.get_num_threads()
    results, shares = {}, {}
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            assert torch.get_num_threads() == n
            y = tse.sigmoid(x)

            def work():
                tse.sigmoid(x)
                ops.sigmoid_backward(g, y)

            # OpenMP workers left from earlier 2-thread work spin for a while before they
            # sleep, and that spinning counts as their CPU time: let them settle first.
            time.sleep(0.5)
            main, others = _run_and_measure(work, 40)
            shares[n] = others / (main + others)
            results[n] = [y, ops.sigmoid_backward(g, y)]
    finally:
        torch.set_num_threads(old)
    assert all(_bitwise_equal(a, b) for a, b in zip(results[1], results[2]))
    assert shares[1] < 0.1, shares  # nothing off the calling thread
    assert shares[2] > 0.25, shares  # the second thread did part of it


class _SigmoidDataset(torch.utils.data.Dataset):
    """Each item runs the ops in the worker process: forward, out=, and a backward."""

    def __len__(self):
        return 16

    def __getitem__(self, i):
        x, g = _inputs(i)
        x, g = x.real.float(), g.real.float()
        xr = x.clone().requires_grad_()
        y = tse.sigmoid(xr)
        (gx,) = torch.autograd.grad(y, xr, g)
        return i, y.detach()[:7].clone(), gx[:7].clone(), torch.get_num_threads()


def check_dataloader_workers(context):
    """The ops in two DataLoader workers started by context: every item right, one thread each."""
    loader = torch.utils.data.DataLoader(
        _SigmoidDataset(), batch_size=None, num_workers=2, multiprocessing_context=context
    )
    seen = set()
    for i, y, gx, worker_threads in loader:
        x, g = _inputs(int(i))
        x, g = x.real.float()[:7], g.real.float()[:7]
        expected = tse.sigmoid(x)
        assert torch.equal(y, expected)
        assert torch.equal(gx, ops.sigmoid_backward(g, expected))
        assert worker_threads == 1  # DataLoader's workers run one intra-op thread
        seen.add(int(i))
    assert seen == set(range(16))


def test_dataloader_workers_spawn():
    check_dataloader_workers("spawn")


def test_dataloader_workers_fork():
    # From a fresh interpreter, as a training script's DataLoader forks: torch refuses autograd
    # in a forked child once the parent's autograd engine has started its device threads
    # (pytorch's "Autograd and Fork" rule), and whether an earlier test in this process started
    # them depends on the order the tests run in.
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import test_reliability; "
            "test_reliability.check_dataloader_workers('fork')")
    result = subprocess.run([sys.executable, "-c", code, os.path.dirname(__file__)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


# Memory

# RSS may grow this much over 100,000 forward+backward calls after the warmup: a leak of
# 90 bytes per call or more passes it (docs/testing.md has what it grows by without one).
RSS_MARGIN_MIB = 8


def _rss_mib():
    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def test_no_memory_growth_over_many_calls():
    x = torch.randn(64, requires_grad=True)
    g = torch.randn(64)
    out = torch.empty(64)

    def step():
        y = tse.sigmoid(x)
        torch.autograd.grad(y, x, g)
        with torch.no_grad():
            tse.sigmoid(x, out=out)

    for _ in range(5_000):
        step()
    before = _rss_mib()
    for _ in range(100_000):
        step()
    growth = _rss_mib() - before
    assert growth < RSS_MARGIN_MIB, f"RSS grew {growth:.1f} MiB over 100,000 calls"


def test_graph_and_saved_tensors_are_freed():
    packed = []

    class Saved:  # what autograd keeps for backward, tracked by weak references
        def __init__(self, t):
            self.t = t

    def pack(t):
        s = Saved(t)
        packed.append(weakref.ref(s))
        return s

    x = torch.randn(1000, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda s: s.t):
        y = tse.sigmoid(x)
    assert len(packed) == 1  # only the output is saved
    alive = weakref.ref(y)
    y.backward(torch.ones_like(y))
    assert packed[0]() is None  # backward without retain_graph frees what was saved
    del y
    gc.collect()
    assert alive() is None  # nothing else holds the output or its graph
    assert x.grad is not None


def test_graph_is_freed_without_backward():
    saved = []

    def pack(t):
        # A detached alias stands in for the saved tensor: packing the output itself would
        # make a cycle (output -> grad_fn -> output) that only the hook created.
        alias = t.detach()
        saved.append(weakref.ref(alias))
        return alias

    x = torch.randn(1000, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = tse.sigmoid(x)
        z = tse.sigmoid(y)  # a two-node graph: each node saves its own output
    assert len(saved) == 2
    gc.collect()
    assert all(r() is not None for r in saved)  # held by the graph while the outputs live
    del y, z
    gc.collect()
    assert all(r() is None for r in saved)  # dropping the outputs drops the graph


def _vm_flags(address):
    """The VmFlags of the mapping in /proc/self/smaps that holds address."""
    current = None
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = (int(v, 16) for v in head.split("-"))
                current = lo <= address < hi
            elif head == "VmFlags:" and current:
                return line.split()[1:]
    return None


def _thp_mode():
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return f.read().split("[")[1].split("]")[0]
    except (OSError, IndexError):
        return None


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="Linux only")
@pytest.mark.parametrize("env", [None, "0"])
def test_large_outputs_ask_for_huge_pages(env):
    # Fresh outputs of 64 MiB and more are advised MADV_HUGEPAGE ("hg" in the mapping's
    # VmFlags), so that the kernel's first writes fault in 2 MiB pages instead of 4 KiB ones;
    # small ones, and every one under TORCH_SIGMOID_EXT_HUGE_PAGES=0, are left alone. In a
    # subprocess, so that the setting is read fresh.
    if _thp_mode() not in ("madvise", "always"):
        pytest.skip("no transparent huge pages here")
    code = (
        "import torch, torch_sigmoid_ext as tse\n"
        "from tests.test_reliability import _vm_flags\n"
        "big = tse.sigmoid(torch.zeros(1 << 24))\n"
        "grad = torch.ops.torch_sigmoid_ext.sigmoid_backward(torch.ones(1 << 24), big)\n"
        "small = tse.sigmoid(torch.zeros(1 << 10))\n"
        "assert torch.equal(big, torch.full_like(big, 0.5)) and torch.equal(grad, big / 2)\n"
        "print(['hg' in _vm_flags(t.data_ptr() + t.nbytes // 2) for t in (big, grad, small)])\n"
    )
    environ = dict(os.environ)
    environ.pop("TORCH_SIGMOID_EXT_HUGE_PAGES", None)
    environ.pop("THP_MEM_ALLOC_ENABLE", None)
    if env is not None:
        environ["TORCH_SIGMOID_EXT_HUGE_PAGES"] = env
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], env=environ, cwd=root,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    advised = env is None
    assert out.stdout.strip() == str([advised, advised, False])
