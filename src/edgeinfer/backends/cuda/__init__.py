"""CUDA C: generated kernels (one thread per row) and a host launcher with a C API."""
