"""Small models for short runs: the seed article's CNN, a small ResNet, and an MLP. Inputs adapt to any
channels and size; each model names its layers so gradient norms can be shown per layer."""

from __future__ import annotations

import torch
from torch import nn

from augviz.deepnet import DeepNet, spec_from_dict
from augviz.errors import ConfigError


def standardize(x: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1] to roughly zero mean and unit spread, so plain SGD and Adam start well."""
    return (x - 0.5) / 0.25

MODELS = ("seed_cnn", "seed_cnn_bn", "resnet", "mlp", "deepnet")
TRAIN_MODELS = MODELS[:4]  # the Train page's; "deepnet" is the gradient lab's, built from a NetSpec
LABELS = {"seed_cnn": "Seed CNN (Conv32-Conv64-Conv64-Dense64)", "seed_cnn_bn": "Seed CNN + batch norm",
          "resnet": "Small ResNet", "mlp": "MLP (2×256)", "deepnet": "Deep plain net (gradient lab)"}


class SeedCNN(nn.Module):
    """The seed article's Keras CNN: Conv 32 → pool → Conv 64 → pool → Conv 64 → Dense 64 → classes.

    With ``batchnorm``, each convolution is followed by batch norm (and has no bias, which the norm would cancel):
    the same layers and sizes, but the scale of every layer's input is kept in check, so one learning rate suits
    all layers and short runs train further (measured in bench/lessons.py, docs/lessons.md)."""

    def __init__(self, channels: int, size: int, classes: int, batchnorm: bool = False) -> None:
        super().__init__()
        def norm(c: int) -> nn.Module:
            return nn.BatchNorm2d(c) if batchnorm else nn.Identity()

        self.conv1, self.bn1 = nn.Conv2d(channels, 32, 3, bias=not batchnorm), norm(32)
        self.conv2, self.bn2 = nn.Conv2d(32, 64, 3, bias=not batchnorm), norm(64)
        self.conv3, self.bn3 = nn.Conv2d(64, 64, 3, bias=not batchnorm), norm(64)
        side = ((size - 2) // 2 - 2) // 2 - 2  # 'valid' convolutions, as Keras' default
        self.dense = nn.Linear(64 * side * side, 64)
        self.out = nn.Linear(64, classes)

    def layer_groups(self) -> list[tuple[str, list[nn.Parameter]]]:
        """Per layer its parameters, a convolution together with its batch norm."""
        return [("conv1", [*self.conv1.parameters(), *self.bn1.parameters()]),
                ("conv2", [*self.conv2.parameters(), *self.bn2.parameters()]),
                ("conv3", [*self.conv3.parameters(), *self.bn3.parameters()]),
                ("dense", list(self.dense.parameters())), ("out", list(self.out.parameters()))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Pool, then ReLU: the same numbers and gradients as Keras' ReLU-then-pool (max and ReLU commute, and the
        # pooled gradient reaches the same element), but ReLU and its backward touch a quarter of the pixels, which
        # made a one-thread CPU step 5 to 13 % cheaper (bench/train.py --against, and an interleaved profile).
        x = torch.relu(torch.max_pool2d(self.bn1(self.conv1(standardize(x))), 2))
        x = torch.relu(torch.max_pool2d(self.bn2(self.conv2(x)), 2))
        x = torch.relu(self.bn3(self.conv3(x))).flatten(1)
        return self.out(torch.relu(self.dense(x)))


class Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.skip = (nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
                     if stride != 1 or c_in != c_out else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.skip(x))


class SmallResNet(nn.Module):
    """A stem and three residual stages (16, 32, 64 channels), global average pooling, a linear head."""

    def __init__(self, channels: int, size: int, classes: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(channels, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.stage1 = Block(16, 16, 1)
        self.stage2 = Block(16, 32, 2)
        self.stage3 = Block(32, 64, 2)
        self.head = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage3(self.stage2(self.stage1(self.stem(standardize(x)))))
        return self.head(x.mean(dim=(2, 3)))


class MLP(nn.Module):
    def __init__(self, channels: int, size: int, classes: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(channels * size * size, 256)
        self.fc2 = nn.Linear(256, 256)
        self.out = nn.Linear(256, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.fc2(torch.relu(self.fc1(standardize(x).flatten(1))))))


# The smallest image side a model takes: the seed CNN's three 3×3 convolutions and two 2×2 poolings need 22.
MIN_SIDE = {"seed_cnn": 22, "seed_cnn_bn": 22}


def check_size(name: str, size: int, field: str, whose: str) -> None:
    """ConfigError naming ``field`` when model ``name`` cannot take ``size``×``size`` images (``whose`` size)."""
    least = MIN_SIDE.get(name, 1)
    if size < least:
        raise ConfigError(field, f"the seed CNN needs images of at least {least}×{least} pixels, got {size}×{size} "
                                 f"({whose}); set image_size to {least} or more, or pick another model")


def build(name: str, channels: int, size: int, classes: int, net: dict | None = None) -> nn.Module:
    """A fresh model by name, shaped for the data, taking images in [0, 1] (``net``: the deep net's spec)."""
    if name == "deepnet":
        return DeepNet(spec_from_dict(net or {}), channels, size, classes)
    kinds = {"seed_cnn": SeedCNN, "seed_cnn_bn": SeedCNN, "resnet": SmallResNet, "mlp": MLP}
    if name not in kinds:
        raise ValueError(f"unknown model {name!r} (known: {', '.join(MODELS)})")
    check_size(name, size, "model", "the images' own size")
    if name == "seed_cnn_bn":
        return SeedCNN(channels, size, classes, batchnorm=True)
    return kinds[name](channels, size, classes)


def layers(model: nn.Module) -> list[tuple[str, list[nn.Parameter]]]:
    """The model's layers that hold parameters, in order, each with its parameters (weight, bias…)."""
    if hasattr(model, "layer_groups"):
        return model.layer_groups()
    out = []
    for name, module in model.named_modules():
        params = [p for p in module.parameters(recurse=False) if p.requires_grad]
        if params:
            out.append((name, params))
    return out
