"""The intermediate representation: Graph, Tensor, Node, the op registry and the reference."""

from edgeinfer.ir.cost import graph_cost
from edgeinfer.ir.graph import Graph
from edgeinfer.ir.node import Node
from edgeinfer.ir.reference import run
from edgeinfer.ir.registry import OpDef, get_op, known_ops, register, require
from edgeinfer.ir.tensor import QuantParams, Tensor

__all__ = ["Graph", "Node", "OpDef", "QuantParams", "Tensor", "get_op", "graph_cost",
           "known_ops", "register", "require", "run"]
