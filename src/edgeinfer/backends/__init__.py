"""Backends: one package per way of running a Graph."""
