"""How much faster is SRU than an LSTM? Forward + backward, side by side, on the CPU.

Times one forward and one backward pass (gradients for the input and every weight) of a
one-layer recurrent network at T=256 on the same input, for

- ``course_pkg.nn.SRU``     one matrix product for all steps, then an element-wise loop
- ``course_pkg.nn.SRUpp``   the same with a one-head attention sub-layer making the projections
- ``course_pkg.nn.LSTM``    the course's LSTM on its step-by-step path (``fused = False``): one
                            product per step with W_hh, autograd backward, as the SRU
- ``course_pkg.nn.LSTM``    the same module on its fast path (hand-written backward, oneDNN GEMMs)
- ``torch.nn.LSTM``         PyTorch's fused LSTM (oneDNN on CPU in float32)

The implementations take turns (each repeat runs each once, in an order shuffled for that
repeat: `course_pkg.timing`), so a change in the machine's load hits all of them
alike. For each size the table shows medians, quartiles and each time divided by SRU's (so
``2.5x`` means 2.5 times slower than SRU).

    python benchmarks/sru_speed.py                          # T=256, B=32, D=H in {128, 256}
    python benchmarks/sru_speed.py --sizes 256 --threads 2 --repeats 30
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

SRU, SRUPP, COURSE_LSTM, TORCH_LSTM = ("course_pkg.nn.SRU", "course_pkg.nn.SRUpp (1 head)",
                                       "course_pkg.nn.LSTM, step by step", "torch.nn.LSTM")
COURSE_LSTM_FUSED = "course_pkg.nn.LSTM, fast path"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seq-len", type=int, default=256, help="T, time steps")
    parser.add_argument("--batch", type=int, default=32, help="B, sequences per batch")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256],
                        help="input and hidden sizes D = H to try")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads (torch and BLAS); on a busy 2-core machine 2 threads "
                             "make every small operation wait for the other core")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per implementation")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first")
    parser.add_argument("--max-seconds", type=float, default=120.0,
                        help="per size, stop repeating after this long (a loaded machine is slow)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name in ("seq_len", "batch", "threads", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}: expected a positive int, "
                         f"got {getattr(args, name)}")
    if min(args.sizes) < 1:
        parser.error(f"--sizes: expected positive ints, got {args.sizes}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    # BLAS thread pools read these once, at import: set them before importing torch.
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = str(args.threads)
    import torch

    from course_pkg.timing import interleaved_times
    from course_pkg.nn.recurrent import LSTM
    from course_pkg.nn.sru import SRU as CourseSRU
    from course_pkg.nn.sru import SRUpp as CourseSRUpp

    torch.set_num_threads(args.threads)
    T, B = args.seq_len, args.batch
    print(f"forward + backward, one layer, T={T}, B={B}, float32, {torch.get_num_threads()} CPU "
          f"threads (torch {torch.__version__})")
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > cores - args.threads + 0.5:
        print(f"warning: load average {load:.1f} on {cores} cores: other processes compete for "
              f"the CPU, so the times are noisy (the interleaved ratios less so)")

    speedups = {}
    for size in args.sizes:
        torch.manual_seed(args.seed)
        step_by_step = LSTM(size, size)
        step_by_step.fused = False
        modules = {SRU: CourseSRU(size, size), SRUPP: CourseSRUpp(size, size),
                   COURSE_LSTM: step_by_step, COURSE_LSTM_FUSED: LSTM(size, size),
                   TORCH_LSTM: torch.nn.LSTM(size, size)}
        x = torch.randn(T, B, size, requires_grad=True)          # (T, B, D)
        d_out = torch.randn(T, B, size)                          # upstream gradient of the output

        def forward_backward(module):
            def run():
                module.zero_grad(set_to_none=True)
                x.grad = None
                output, _ = module(x)
                output.backward(d_out)
            return run

        start = time.perf_counter()
        times = interleaved_times({name: forward_backward(m) for name, m in modules.items()},
                                  args.repeats, args.warmup, args.max_seconds)
        medians = {name: statistics.median(values) for name, values in times.items()}
        print(f"\nD = H = {size}: {len(times[SRU])} repeats in "
              f"{time.perf_counter() - start:.0f} s")
        print(f"  {'implementation':30s} {'median ms':>10s} {'quartiles ms':>15s}   time / SRU's")
        for name, values in times.items():
            q1, _, q3 = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
            print(f"  {name:30s} {medians[name] * 1e3:10.1f} "
                  f"{f'{q1 * 1e3:.1f}-{q3 * 1e3:.1f}':>15s}   {medians[name] / medians[SRU]:.2f}x")
        speedups[size] = (medians[COURSE_LSTM] / medians[SRU], medians[TORCH_LSTM] / medians[SRU])

    print("\nSRU speed-up (median LSTM time / median SRU time):")
    for size, (over_course, over_torch) in speedups.items():
        print(f"  D = H = {size}: over course_pkg.nn.LSTM {over_course:.2f}x, "
              f"over torch.nn.LSTM {over_torch:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
