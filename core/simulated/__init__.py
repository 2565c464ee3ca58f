"""The simulation: hosts that behave like real ones without touching this machine.

- `materialize`: a recorded host (snapshot) turned into a tree with /sys, /dev, /proc, /etc.
- `kernel`: SimulatedKernel, the real kernel's binding semantics over such a tree.
- `demo_host`: the built-in demo host (the seed blog's host192).
- `synthetic`: HostBuilder (real config-space bytes) and synthetic hosts for benchmarks.
"""
