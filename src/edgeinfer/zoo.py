"""The MLPerf Tiny reference architectures in PyTorch (untrained), for conversion tests and benchmarks.

Built lazily so that importing edgeinfer does not import torch.

>>> # m = edgeinfer.convert(zoo.ds_cnn(), zoo.example_input("ds_cnn"))
"""

from __future__ import annotations

from typing import Any

INPUTS = {"fc_autoencoder": (1, 640), "ds_cnn": (1, 1, 49, 10), "resnet8": (1, 3, 32, 32),
          "mobilenet_v1": (1, 3, 96, 96)}


def example_input(name: str) -> Any:
    """A zero tensor of the model's input shape (batch 1)."""
    import torch

    return torch.zeros(INPUTS[name])


def fc_autoencoder() -> Any:
    """Anomaly detection (ToyADMOS): 640 -> 128 x4 -> 8 -> 128 x4 -> 640, BatchNorm + ReLU."""
    from torch import nn

    def block(i: int, o: int) -> list:
        return [nn.Linear(i, o), nn.BatchNorm1d(o), nn.ReLU()]

    layers = block(640, 128) + sum((block(128, 128) for _ in range(3)), []) + block(128, 8)
    layers += block(8, 128) + sum((block(128, 128) for _ in range(3)), []) + [nn.Linear(128, 640)]
    return nn.Sequential(*layers).eval()


def ds_cnn() -> Any:
    """Keyword spotting: DS-CNN (64 filters) on 49x10 MFCC, 12 classes."""
    from torch import nn

    layers = [nn.Conv2d(1, 64, (10, 4), stride=2, padding=(5, 1)), nn.BatchNorm2d(64), nn.ReLU()]
    for _ in range(4):
        layers += [nn.Conv2d(64, 64, 3, padding=1, groups=64), nn.BatchNorm2d(64), nn.ReLU(),
                   nn.Conv2d(64, 64, 1), nn.BatchNorm2d(64), nn.ReLU()]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 12), nn.Softmax(dim=1)]
    return nn.Sequential(*layers).eval()


def resnet8() -> Any:
    """Image classification (CIFAR-10): ResNet-8 with 16/32/64 filters."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, i: int, o: int, s: int) -> None:
            super().__init__()
            self.a = nn.Sequential(nn.Conv2d(i, o, 3, s, 1), nn.BatchNorm2d(o), nn.ReLU(),
                                   nn.Conv2d(o, o, 3, 1, 1), nn.BatchNorm2d(o))
            self.skip = nn.Identity() if s == 1 and i == o else nn.Conv2d(i, o, 1, s)

        def forward(self, x: Any) -> Any:
            return torch.relu(self.a(x) + self.skip(x))

    return nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1), nn.BatchNorm2d(16), nn.ReLU(), Block(16, 16, 1),
                         Block(16, 32, 2), Block(32, 64, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(64, 10), nn.Softmax(dim=1)).eval()


def mobilenet_v1(alpha: float = 0.25) -> Any:
    """Visual wake words: MobileNetV1 (width 0.25) on 96x96x3, 2 classes."""
    from torch import nn

    def c(n: int) -> int:
        return max(8, int(n * alpha))

    cfg = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    layers, ch = [nn.Conv2d(3, c(32), 3, 2, 1), nn.BatchNorm2d(c(32)), nn.ReLU6()], c(32)
    for out, s in cfg:
        layers += [nn.Conv2d(ch, ch, 3, s, 1, groups=ch), nn.BatchNorm2d(ch), nn.ReLU6(),
                   nn.Conv2d(ch, c(out), 1), nn.BatchNorm2d(c(out)), nn.ReLU6()]
        ch = c(out)
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(ch, 2), nn.Softmax(dim=1)]
    return nn.Sequential(*layers).eval()


MODELS = {"fc_autoencoder": fc_autoencoder, "ds_cnn": ds_cnn, "resnet8": resnet8, "mobilenet_v1": mobilenet_v1}
