"""Bad input never escapes as a traceback: uploads (a fuzz of 500+ generated cases), pipeline documents, links
and run configurations (property-based, over arbitrary JSON)."""

from __future__ import annotations

import base64
import io
import json
import random
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, PngImagePlugin
from streamlit.testing.v1 import AppTest

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


def metadata_payloads(good: bytes, rng: random.Random, count: int) -> list[bytes]:
    """``good`` with bytes overwritten, cut short, or replaced: what a broken camera or editor writes."""
    out = [b"", b"XM" + bytes(20), b"II*\x00\xff\xff\xff\xff", b"MM\x00*\x00\x00\x00\x08\xff\xff",
           bytes(rng.randrange(256) for _ in range(64))]
    while len(out) < count:
        b = bytearray(good)
        for _ in range(rng.randrange(1, 6)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        out += [bytes(b), good[:rng.randrange(1, len(good))]]
    return out


def metadata_cases() -> list[tuple[str, bytes, str]]:
    """A small picture in every format that carries metadata, with broken EXIF, ICC and XMP blocks: the
    file name, the bytes, and the format (BMP carries none; GIF only a comment)."""
    rng = random.Random(5)
    pic = Image.new("RGB", (20, 10), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112], exif[0x010F], exif[0x8769] = 6, "camera", {0x9003: "2020:01:01 00:00:00"}
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF>'
           b"</x:xmpmeta>")
    blocks = {"exif": metadata_payloads(exif.tobytes(), rng, 40), "icc": metadata_payloads(icc, rng, 20),
              "xmp": metadata_payloads(xmp, rng, 20)}
    cases = []
    for fmt, kinds in {"PNG": ("exif", "icc", "xmp"), "JPEG": ("exif", "icc", "xmp"), "WEBP": ("exif", "icc", "xmp"),
                       "TIFF": ("icc", "xmp"), "GIF": ("comment",)}.items():
        for kind in kinds:
            for k, payload in enumerate(blocks.get(kind, blocks["xmp"])):
                if kind == "xmp" and fmt == "PNG":
                    info = PngImagePlugin.PngInfo()
                    info.add_itxt("XML:com.adobe.xmp", payload.decode("latin-1"))
                    kw: dict = {"pnginfo": info}
                elif kind == "xmp" and fmt == "TIFF":
                    kw = {"tiffinfo": {700: payload}}
                else:
                    kw = {{"icc": "icc_profile"}.get(kind, kind): payload}
                try:
                    cases.append((f"{kind}{k}.{fmt.lower()}", encode(pic, fmt, **kw), fmt))
                except (ValueError, TypeError, OSError, SyntaxError, struct.error):
                    continue  # PIL will not even write this one
    return cases


METADATA = metadata_cases()


def test_the_metadata_fuzz_covers_every_block_in_every_format():
    kinds = {(name.split(".")[0].rstrip("0123456789"), fmt) for name, _, fmt in METADATA}
    assert len(METADATA) >= 300
    assert kinds == {(k, f) for f in ("PNG", "JPEG", "WEBP") for k in ("exif", "icc", "xmp")} | {
        ("icc", "TIFF"), ("xmp", "TIFF"), ("comment", "GIF")}


@pytest.mark.parametrize(("name", "blob", "fmt"), METADATA, ids=[c[0] for c in METADATA])
def test_broken_metadata_never_costs_the_picture(name, blob, fmt):
    try:
        im = images.decode_upload(blob, name)
    except ImageError as e:  # PIL wrote something it cannot read back: a message that names the file
        assert name in str(e) and len(str(e)) < 200
        return
    arr = np.asarray(im, dtype=float)
    assert im.mode == "RGB" and sorted(im.size) == [10, 20]
    assert abs(arr[..., 0].mean() - 200) < 12 and abs(arr[..., 1].mean() - 30) < 12  # the picture itself


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
    raw = zlib.compress(json.dumps(doc).encode())
    value = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    try:
        share.decode_pipeline(value)
    except ConfigError as e:
        assert e.path.startswith("link")


def poisoned(doc: object, pick: int, poison: str) -> str:
    """``doc`` as JSON text with one of its values (or the whole, when it has none) replaced by ``poison``."""
    text = json.dumps(doc)
    spots = [m.span() for m in re.finditer(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null|\"[^\"]*\"", text)
             if text[m.end():m.end() + 1] != ":"]  # values, not keys
    if not spots:
        return poison
    start, end = spots[pick % len(spots)]
    return text[:start] + poison + text[end:]


poisons = st.one_of(st.integers(31, 6000).map(lambda n: "9" * n), st.integers(31, 400).map(lambda n: "-1" + "0" * n),
                    st.integers(17, 100_000).map(lambda n: "[" * n + "]" * n),
                    st.integers(17, 2000).map(lambda n: '{"a": ' * n + "1" + "}" * n))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pipeline_docs, st.integers(0, 50), poisons)
def test_pasted_json_with_huge_numbers_or_deep_nesting_gets_a_message(doc, pick, poison):
    text = poisoned(doc, pick, poison)
    with pytest.raises(ConfigError) as e:
        serialize.loads(text)
    assert e.value.message and len(str(e.value)) < 300


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pipeline_docs, st.integers(0, 50), poisons)
def test_links_with_huge_numbers_or_deep_nesting_get_a_message(doc, pick, poison):
    value = base64.urlsafe_b64encode(zlib.compress(poisoned(doc, pick, poison).encode(), 9)).decode().rstrip("=")
    with pytest.raises(ConfigError) as e:
        share.decode_pipeline(value)
    assert e.value.path.startswith("link")


run_docs = st.dictionaries(st.sampled_from(["dataset", "train_size", "lr", "epochs", "model", "batch_size", "seed",
                                            "val_fraction", "clip_norm", "net", "pipeline", "folder", "image_size",
                                            "channels", "bogus"]),
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


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run_docs, st.integers(0, 50), poisons)
def test_run_configurations_with_huge_numbers_or_deep_nesting_get_a_message(doc, pick, poison):
    with pytest.raises(ConfigError) as e:
        runconfig.loads(poisoned(doc, pick, poison))
    assert e.value.message


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["p", "img", "seed", "x"]), st.text(max_size=60), max_size=3))
def test_any_query_string_renders_the_explore_page(query):
    at = AppTest.from_file(str(Path(__file__).parents[1] / "app.py"), default_timeout=30)
    at.query_params.update(query)
    at.run()
    assert not at.exception
    assert len(at.get("image")) >= 2  # the original and the draws are there whatever the link said
