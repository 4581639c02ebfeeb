"""How fast is the course's LSTM? Forward + backward, side by side with PyTorch's and numpy's.

Times one forward and one backward pass (gradients for the input, the initial states and every
weight) of a one-layer LSTM on the same data and weights, for

- ``course_pkg.nn.LSTM``          the course's module as users get it: for float32 on the CPU
                                  its fast path (`course_pkg.nn.fused_lstm`: backpropagation
                                  through time by hand, oneDNN's GEMM for every product)
- ``course_pkg.nn.LSTM, step by step``  the same module with ``fused = False``: tensor
                                  operations per step, autograd for the backward pass (what the
                                  chapters show)
- ``torch.nn.LSTM``               PyTorch's fused kernel (on CPU in float32: oneDNN's LSTM)
- ``torch.nn.LSTM, oneDNN off``   PyTorch's fallback built from ATen tensor operations, the
                                  closest relative of the course's module
- ``course_pkg.numpy_rnn``        ``lstm_forward`` + ``lstm_backward`` (hand-written backward)

and, where CUDA is available, the course's LSTM on the GPU against ``torch.nn.LSTM`` (cuDNN).
The implementations take turns (each repeat runs each once, in an order shuffled for that
repeat: `course_pkg.timing`), so a change in the machine's load hits all of them
alike; the tables show medians and the ratios to ``torch.nn.LSTM``. Nothing here needs a GPU.
The fast path is CPU-only, so on a GPU the course's LSTM runs step by step.

About three quarters of the step-by-step path's CPU time goes to matrix products. Its float32
``matmul`` calls MKL's sgemm, while torch's fused LSTM runs oneDNN's own GEMM; on CPUs where MKL
does not use AVX-512 (AMD's) the second is about twice as fast, so compare that row with the
"oneDNN off" row, which is torch's own tensor-operation LSTM.

    python benchmarks/lstm_speed.py                        # T=100, B=32, D=H=256, 2 threads
    python benchmarks/lstm_speed.py --repeats 40 --hidden-size 512
    python benchmarks/lstm_speed.py --threads 1 --clock cpu   # steadier on a shared machine
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

COURSE, COURSE_STEPS, TORCH, TORCH_ATEN, NUMPY = (
    "course_pkg.nn.LSTM", "course_pkg.nn.LSTM, step by step", "torch.nn.LSTM",
    "torch.nn.LSTM, oneDNN off", "course_pkg.numpy_rnn (numpy)")
GPU_COURSE, GPU_TORCH = "course_pkg.nn.LSTM (GPU, step by step)", "torch.nn.LSTM (cuDNN)"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seq-len", type=int, default=100, help="T, time steps")
    parser.add_argument("--batch", type=int, default=32, help="B, sequences per batch")
    parser.add_argument("--input-size", type=int, default=256, help="D")
    parser.add_argument("--hidden-size", type=int, default=256, help="H")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch and BLAS)")
    parser.add_argument("--repeats", type=int, default=25, help="timed runs per implementation")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first")
    parser.add_argument("--max-seconds", type=float, default=90.0,
                        help="stop repeating after this long (a loaded machine is slow)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall: elapsed time; cpu: this process's CPU time, steadier on a "
                             "shared machine but with --threads > 1 it adds up all threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-numpy", action="store_true", help="skip the numpy LSTM")
    parser.add_argument("--no-cuda", action="store_true", help="skip the GPU comparison")
    args = parser.parse_args(argv)
    for name in ("seq_len", "batch", "input_size", "hidden_size", "threads", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}: expected a positive int, "
                         f"got {getattr(args, name)}")
    return args


def median_ms(times: dict, name: str) -> float:
    return statistics.median(times[name]) * 1e3


def print_table(title: str, times: dict, reference: str) -> None:
    print(f"\n{title}")
    print(f"  {'implementation':32s} {'median ms':>10s} {'quartiles ms':>15s}"
          f"   ratio to {reference}")
    for name, values in times.items():
        q1, _, q3 = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
        print(f"  {name:32s} {median_ms(times, name):10.2f} "
              f"{f'{q1 * 1e3:.1f}-{q3 * 1e3:.1f}':>15s}   "
              f"{median_ms(times, name) / median_ms(times, reference):.2f}x")


def main(argv=None) -> int:
    args = parse_args(argv)
    # BLAS thread pools read these once, at import: set them before importing numpy or torch.
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = str(args.threads)
    import numpy as np
    import torch

    import course_pkg.nn
    from course_pkg.timing import interleaved_times

    torch.set_num_threads(args.threads)
    T, B, D, H = args.seq_len, args.batch, args.input_size, args.hidden_size
    print(f"LSTM forward + backward, T={T}, B={B}, D={D}, H={H}, float32, "
          f"{torch.get_num_threads()} CPU threads (torch {torch.__version__}, "
          f"numpy {np.__version__})")
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > cores - args.threads + 0.5:
        print(f"warning: load average {load:.1f} on {cores} cores: other processes compete for "
              f"the CPU, so the times are noisy (the interleaved ratios less so)")

    torch.manual_seed(args.seed)
    reference = torch.nn.LSTM(D, H)
    course = course_pkg.nn.LSTM(D, H)
    course.load_state_dict(reference.state_dict())
    step_by_step = course_pkg.nn.LSTM(D, H)
    step_by_step.load_state_dict(reference.state_dict())
    step_by_step.fused = False
    x = torch.randn(T, B, D, requires_grad=True)           # (T, B, D)
    h0 = torch.zeros(1, B, H, requires_grad=True)          # (1, B, H)
    c0 = torch.zeros(1, B, H, requires_grad=True)
    d_out = torch.randn(T, B, H)                           # upstream gradient of the output

    def forward_backward(module):
        def run():
            module.zero_grad(set_to_none=True)
            x.grad = h0.grad = c0.grad = None
            out, _ = module(x, (h0, c0))
            out.backward(d_out)
        return run

    def torch_without_onednn():
        torch.backends.mkldnn.enabled = False
        try:
            forward_backward(reference)()
        finally:
            torch.backends.mkldnn.enabled = True

    with torch.no_grad():
        expected = reference(x, (h0, c0))[0]
        for name, module in ((COURSE, course), (COURSE_STEPS, step_by_step)):
            gap = (module(x, (h0, c0))[0] - expected).abs().max().item()
            print(f"check: max |{name} - torch| over the output = {gap:.1e}")

    runs = {COURSE: forward_backward(course), COURSE_STEPS: forward_backward(step_by_step),
            TORCH: forward_backward(reference), TORCH_ATEN: torch_without_onednn}

    numpy_skipped = "--no-numpy given" if args.no_numpy else None
    if numpy_skipped is None:
        try:                                   # written alongside this module: may be missing
            from course_pkg.numpy_rnn import lstm_backward, lstm_forward
        except ImportError as error:
            numpy_skipped = f"course_pkg.numpy_rnn is not importable ({error})"
    if numpy_skipped is None:
        weights = [p.detach().numpy().copy() for p in
                   (reference.weight_ih_l0, reference.weight_hh_l0,
                    reference.bias_ih_l0, reference.bias_hh_l0)]
        x_np, d_out_np = x.detach().numpy().copy(), d_out.numpy().copy()
        zeros_np = np.zeros((B, H), dtype=np.float32)

        def numpy_forward_backward():
            _, _, cache = lstm_forward(x_np, zeros_np, zeros_np, *weights)
            lstm_backward(d_out_np, None, None, cache)

        runs[NUMPY] = numpy_forward_backward
    else:
        print(f"numpy LSTM skipped: {numpy_skipped}")

    start = time.perf_counter()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    times = interleaved_times(runs, args.repeats, args.warmup, args.max_seconds, clock=clock)
    print_table(f"CPU, {args.clock} clock, {len(times[COURSE])} repeats in "
                f"{time.perf_counter() - start:.0f} s", times, TORCH)
    print(f"\nratio course/torch = {median_ms(times, COURSE) / median_ms(times, TORCH):.2f}")
    print(f"ratio course step by step/torch = "
          f"{median_ms(times, COURSE_STEPS) / median_ms(times, TORCH):.2f}")
    print(f"ratio course step by step/(torch, oneDNN off) = "
          f"{median_ms(times, COURSE_STEPS) / median_ms(times, TORCH_ATEN):.2f}")
    if NUMPY in times:
        print(f"ratio numpy/torch = {median_ms(times, NUMPY) / median_ms(times, TORCH):.2f}")

    if args.no_cuda or not torch.cuda.is_available():
        reason = "--no-cuda given" if args.no_cuda else "CUDA is not available"
        print(f"\nGPU comparison skipped: {reason}")
        return 0
    device = torch.device("cuda")
    reference.to(device)
    course.to(device)
    x, h0, c0, d_out = (t.detach().to(device).requires_grad_(t.requires_grad)
                        for t in (x, h0, c0, d_out))
    gpu_runs = {GPU_COURSE: forward_backward(course), GPU_TORCH: forward_backward(reference)}
    gpu_times = interleaved_times(gpu_runs, args.repeats, args.warmup, args.max_seconds,
                                  torch.cuda.synchronize)
    print_table(f"GPU: {torch.cuda.get_device_name(device)}", gpu_times, GPU_TORCH)
    print(f"\nratio course/cuDNN = "
          f"{median_ms(gpu_times, GPU_COURSE) / median_ms(gpu_times, GPU_TORCH):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
