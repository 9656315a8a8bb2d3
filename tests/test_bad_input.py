"""Bad input never escapes as a traceback: uploads (a fuzz of 500+ generated cases), pipeline documents, links
and run configurations (property-based, over arbitrary JSON)."""

from __future__ import annotations

import io
import json
import random
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from augviz import images, runconfig, serialize, share
from augviz.errors import ConfigError, ImageError


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def upload_cases() -> list[tuple[str, bytes]]:
    """At least 500 generated uploads: valid ones in every format and mode, and every kind of broken one."""
    rng = random.Random(0)
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8))
    valid = {f"ok.{fmt.lower()}": encode(noisy, fmt) for fmt in ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")}
    valid["cmyk.jpg"] = encode(noisy.convert("CMYK"), "JPEG")
    valid["deep.tif"] = encode(Image.fromarray(np.asarray(noisy.convert("L"), np.uint16) * 257), "TIFF")
    for mode in ("L", "LA", "P", "RGBA", "1", "I", "F"):
        valid[f"mode-{mode}.{'tif' if mode in ('I', 'F') else 'png'}"] = encode(
            noisy.convert(mode), "TIFF" if mode in ("I", "F") else "PNG")
    frames = [noisy, noisy.rotate(90)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    valid["animated.gif"] = buf.getvalue()
    cases = list(valid.items())
    for name, blob in list(valid.items()):  # truncated at many points
        for cut in sorted({1, 8, 16, 33, 64, len(blob) // 4, len(blob) // 2, len(blob) - 40, len(blob) - 1}):
            if 0 < cut < len(blob):
                cases.append((f"cut{cut}-{name}", blob[:cut]))
        for k in range(8):  # a few flipped bytes past the header
            b = bytearray(blob)
            for _ in range(4):
                b[rng.randrange(min(len(b) - 1, 40), len(b))] ^= 0xFF
            cases.append((f"flip{k}-{name}", bytes(b)))
    for k in range(160):
        cases.append((f"random{k}.png", bytes(rng.randrange(256) for _ in range(rng.randrange(0, 600)))))
    for magic in (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF\x00\x00\x00\x00WEBP", b"GIF89a", b"BM", b"II*\x00"):
        for k in range(10):
            cases.append((f"magic{k}.png", magic + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))))
    cases += [("empty.png", b""), ("svg.png", b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>"),
              ("exe.png", b"MZ\x90\x00\x03" + bytes(500)), ("elf.png", b"\x7fELF\x02\x01\x01" + bytes(300)),
              ("huge.png", encode(Image.new("1", (20_000, 20_000)), "PNG")),
              ("bomb.png", encode(Image.new("L", (12_000, 9_000)), "PNG"))]
    return cases


CASES = upload_cases()


def test_the_fuzz_has_at_least_500_cases():
    assert len(CASES) >= 500


@pytest.mark.parametrize(("name", "blob"), CASES, ids=[c[0] for c in CASES])
def test_every_upload_decodes_or_is_refused_with_a_message(name, blob):
    try:
        im = images.decode_upload(blob, name)
    except ImageError as e:
        assert name in str(e) and len(str(e)) < 200
        return
    assert im.mode == "RGB" and im.width * im.height <= images.MAX_PIXELS


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25)
step_docs = st.fixed_dictionaries({"transform": st.sampled_from(["rotation", "mixup", "hue", "x", 3])},
                                  optional={"p": json_values, "enabled": json_values,
                                            "params": st.dictionaries(st.sampled_from(
                                                ["degrees", "fill", "alpha", "shift", "bogus"]), json_values)})
pipeline_docs = st.fixed_dictionaries({"version": st.sampled_from([1, 2, 0, "1"])},
                                      optional={"seed": json_values, "steps": st.lists(step_docs, max_size=4),
                                                "format": json_values})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, pipeline_docs))
def test_any_pipeline_document_loads_or_names_its_fault(doc):
    try:
        pipe = serialize.from_dict(doc)
    except ConfigError as e:
        assert isinstance(e.path, str) and e.message
        return
    assert serialize.from_dict(serialize.to_dict(pipe)) == pipe


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_any_link_value_loads_or_names_its_fault(value):
    try:
        share.decode_pipeline(value)
    except ConfigError as e:
        assert e.path.startswith("link")


@settings(max_examples=100, deadline=None)
@given(pipeline_docs)
def test_compressed_documents_in_links_behave_like_the_documents(doc):
    import base64

    raw = zlib.compress(json.dumps(doc).encode())
    value = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    try:
        share.decode_pipeline(value)
    except ConfigError as e:
        assert e.path.startswith("link")


run_docs = st.dictionaries(st.sampled_from(["dataset", "train_size", "lr", "epochs", "model", "batch_size", "seed",
                                            "val_fraction", "clip_norm", "net", "pipeline", "folder", "bogus"]),
                           json_values, max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, run_docs))
def test_any_run_configuration_loads_or_names_its_fault(doc):
    try:
        cfg = runconfig.from_dict(doc)
    except ConfigError as e:
        assert e.message
        return
    assert runconfig.from_dict(json.loads(cfg.to_json())) == cfg


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["p", "img", "seed", "x"]), st.text(max_size=60), max_size=3))
def test_any_query_string_renders_the_explore_page(query):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).parents[1] / "app.py"), default_timeout=30)
    at.query_params.update(query)
    at.run()
    assert not at.exception
    assert len(at.get("image")) >= 2  # the original and the draws are there whatever the link said
