"""Per-image random fields: their distributions, and that an image's field depends on its seed alone."""

from __future__ import annotations

import math

import pytest
import torch

from augviz.functional.noise import LEVELS, normal_field, normal_quantiles, uniform_field

CPU = torch.device("cpu")
DEVICES = [CPU] + ([torch.device("cuda")] if torch.cuda.is_available() else [])


def ks_distance(values: torch.Tensor, cdf) -> float:
    """Kolmogorov–Smirnov distance between the sample and a reference CDF."""
    v, _ = values.flatten().double().sort()
    n = len(v)
    ref = cdf(v)
    above = torch.arange(1, n + 1, dtype=torch.float64) / n - ref
    below = ref - torch.arange(n, dtype=torch.float64) / n
    return float(torch.maximum(above, below).max())


def normal_cdf(v: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf(v / math.sqrt(2)))


@pytest.mark.parametrize("device", DEVICES)
def test_a_normal_field_is_standard_normal(device):
    z = normal_field(torch.tensor([1, 2, 3, 4]), (3, 128, 128), device).cpu()
    # The critical KS distance at the 0.1 % level for 196,608 values is 0.0044.
    assert ks_distance(z, normal_cdf) < 0.0044
    assert abs(float(z.mean())) < 0.01 and abs(float(z.std()) - 1) < 0.01


@pytest.mark.parametrize("device", DEVICES)
def test_a_uniform_field_is_uniform_on_the_unit_interval(device):
    u = uniform_field(torch.tensor([5, 6]), (2, 128, 128), device).cpu()
    assert float(u.min()) >= 0 and float(u.max()) < 1
    assert ks_distance(u, lambda v: v) < 0.0063  # 0.1 % critical distance for 65,536 values


def test_cpu_normal_values_are_the_quantiles_of_equally_likely_levels():
    q = torch.from_numpy(normal_quantiles())
    assert len(q) == LEVELS and bool((q[1:] > q[:-1]).all())
    torch.testing.assert_close(q, -q.flip(0), atol=1e-6, rtol=0)  # symmetric, so the mean is exactly 0
    torch.testing.assert_close(normal_cdf(q.double()), (torch.arange(LEVELS) + 0.5).double() / LEVELS,
                               atol=1e-7, rtol=0)
    z = normal_field(torch.tensor([7]), (1, 256, 256), CPU)
    assert bool(torch.isin(z, q).all())
    assert float(z.abs().max()) <= 4.34


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("field", [normal_field, uniform_field])
def test_an_images_field_depends_on_its_seed_alone(field, device):
    a = field(torch.tensor([10, 11, 12]), (3, 16, 20), device)
    b = field(torch.tensor([12, 10]), (3, 16, 20), device)
    assert torch.equal(a[0], b[1]) and torch.equal(a[2], b[0])
    assert not torch.equal(a[0], a[1])


def test_a_reused_field_lands_in_the_same_buffer_and_a_plain_one_does_not():
    seeds = torch.tensor([1, 2])
    first = normal_field(seeds, (3, 8, 8), CPU, reuse=True)
    kept = first.clone()
    second = normal_field(torch.tensor([3, 4]), (3, 8, 8), CPU, reuse=True)
    assert second.data_ptr() == first.data_ptr() and not torch.equal(first, kept)
    plain = normal_field(seeds, (3, 8, 8), CPU)
    assert plain.data_ptr() != second.data_ptr() and torch.equal(plain, kept)


@pytest.mark.parametrize("field", [normal_field, uniform_field])
def test_fields_of_odd_sizes_and_empty_batches(field):
    assert field(torch.tensor([1]), (1, 3, 5), CPU).shape == (1, 1, 3, 5)
    assert field(torch.tensor([], dtype=torch.int64), (3, 4, 4), CPU).shape == (0, 3, 4, 4)
