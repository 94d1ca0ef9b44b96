"""Tensor programs: every IR op as PyTorch tensor operations (CPU or GPU), exported to TorchScript
and to ONNX with standard operators, and run by ONNX Runtime on its best execution provider.

torch is imported lazily, inside the modules of this package, so ``import edgeinfer`` stays light.
"""
