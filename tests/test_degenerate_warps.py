"""Geometric steps at the ends of their ranges: any chain the validator accepts renders finite pictures and trains.

Two 45° shears (x and y) flatten the picture onto a line: the composed map has no inverse. It is drawn as the
limit of nearly flat maps, the picture squeezed onto that line and the fill everywhere else, never an error.
"""

from __future__ import annotations

import math

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from augviz import preview, serialize
from augviz.functional.warp import Warp, invert
from augviz.pipeline import Pipeline, Step
from augviz.runconfig import RunConfig
from augviz.train import train
from augviz.transform import GEOMETRIC, REGISTRY
from tests.test_train import Recorder, small  # noqa: F401  (the fixture)

GEOMETRIC_STEPS = sorted(name for name, t in REGISTRY.items() if t.category == GEOMETRIC)
FLAT_SHEAR = Step("affine", {"shear_x": (45.0, 45.0), "shear_y": (45.0, 45.0)})


@st.composite
def extreme_steps(draw: st.DrawFn) -> Step:
    """A geometric step with every range at one of its ends (or spanning both) and a random fill."""
    name = draw(st.sampled_from(GEOMETRIC_STEPS))
    cfg = {}
    for p in REGISTRY[name].params:
        if p.is_range:
            lo, hi = draw(st.sampled_from([(p.low, p.low), (p.high, p.high), (p.low, p.high)]))
            cfg[p.name] = (lo, hi)
        elif p.kind == "choice":
            cfg[p.name] = draw(st.sampled_from(p.choices))
        elif p.kind == "bool":
            cfg[p.name] = draw(st.booleans())
        else:
            cfg[p.name] = draw(st.sampled_from([p.low, p.high]))
    return Step(name, cfg, 1.0)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(extreme_steps(), min_size=1, max_size=6), st.integers(0, 2**31 - 1))
def test_any_chain_of_geometric_steps_at_its_bounds_renders_finite_pictures(steps, seed):
    pipe = Pipeline(tuple(steps), seed)
    image = torch.rand(3, 9, 13, generator=torch.Generator().manual_seed(seed))  # odd, non-square sizes
    shown = preview.render(pipe, image, 3)
    assert torch.isfinite(shown.draws).all()
    assert all(torch.isfinite(f.image).all() for f in shown.strip)
    assert shown.draws.min() >= -1e-6 and shown.draws.max() <= 1 + 1e-6  # float rounding of the fill


def test_two_flattening_shears_render_as_the_picture_squeezed_onto_a_line():
    shear = Step("affine", {"shear_x": (45.0, 45.0), "shear_y": (45.0, 45.0), "translate_x": (0.0, 0.0),
                            "translate_y": (0.0, 0.0), "fill": "constant", "fill_value": 0.5})
    image = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    out = Pipeline((shear, shear)).run(image).images[0, 0]
    # x' = y' = 2(x + y): every point lands on the diagonal, so only the diagonal's pixels show the picture.
    off_diagonal = ~torch.eye(8, dtype=torch.bool)
    assert (out[off_diagonal] == 0.5).all()
    assert (out.diagonal() != 0.5).all()


def test_the_preview_of_two_flattening_shears_renders():
    shown = preview.render(Pipeline((FLAT_SHEAR, FLAT_SHEAR)), torch.rand(3, 32, 32), 8)
    assert torch.isfinite(shown.draws).all()


def test_a_flattening_shear_beside_a_displacement_field_renders():
    pipe = Pipeline((FLAT_SHEAR, FLAT_SHEAR, Step("elastic"), Step("perspective", {"distortion": (1.0, 1.0)})))
    assert torch.isfinite(pipe.run(torch.rand(4, 3, 16, 16)).images).all()


def test_the_inverse_of_an_invertible_map_is_exact_and_a_flat_map_gets_a_finite_one():
    turn = torch.tensor([[[0.0, -1.0, 3.0], [1.0, 0.0, -2.0], [0.0, 0.0, 1.0]]], dtype=torch.float64)
    flat = torch.tensor([[[2.0, 2.0, 0.0], [2.0, 2.0, 0.0], [0.0, 0.0, 1.0]]], dtype=torch.float64)
    both = invert(torch.cat([turn, flat]))
    assert torch.equal(both[0], torch.linalg.inv(turn)[0])
    assert torch.isfinite(both[1]).all()
    # On the line the picture collapses onto, the inverse sends a point back to a point of the picture.
    on_line = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64)
    back = both[1] @ on_line
    assert back[:2].abs().max() < 1 and torch.allclose(flat[0] @ back, on_line, atol=1e-4)


def test_a_sampling_grid_never_holds_infinities():
    flat = torch.tensor([[[2.0, 2.0, 0.0], [2.0, 2.0, 0.0], [0.0, 0.0, 1.0]]], dtype=torch.float64)
    vanishing = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]], dtype=torch.float64)
    for m in (flat, vanishing):
        grid = Warp.identity(1, 7, 7, torch.device("cpu")).then_matrix(m).grid()
        assert torch.isfinite(grid).all()


def test_a_run_with_two_flattening_shears_trains(small):  # noqa: F811
    pipe = Pipeline((FLAT_SHEAR, FLAT_SHEAR))
    s = train(RunConfig(batch_size=32, epochs=1, pipeline=serialize.to_dict(pipe)), Recorder(), dataset=small,
              max_steps=2)
    assert s.status == "finished" and math.isfinite(s.test_acc)
