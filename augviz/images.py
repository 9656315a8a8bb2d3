"""Images in and out: built-in samples, safe decoding of uploads, tensors, and grids.

Uploads are untrusted: size-limited, guarded against decompression bombs, first frame only, EXIF orientation
applied (broken metadata is ignored: the picture is shown as stored), every mode (L, LA, P, RGBA, CMYK, 16-bit,
float) converted to 8-bit RGB. Every guard is per call: nothing here changes PIL's process-wide settings.
"""

from __future__ import annotations

import base64
import io
import math
import os
import stat
import struct
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont, PngImagePlugin, UnidentifiedImageError

from augviz.errors import ImageError

SAMPLE_SIZE = 256
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000  # well above any photo; PIL's own bomb guard is 89.5 M and warns first
PREVIEW_SIDE = 256
MAX_DECODED_SIDE = 2048  # longer pictures are reduced on decoding: nothing in augviz shows or trains on more
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
EXTENSIONS = ("png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff")


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def colour_card(size: int = SAMPLE_SIZE) -> Image.Image:
    """Colour bars, a grid, a circle and corner marks: distortions and colour changes show at once."""
    im = Image.new("RGB", (size, size), (40, 40, 40))
    d = ImageDraw.Draw(im)
    bars = [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0), (255, 0, 255), (255, 0, 0), (0, 0, 255)]
    bw = size / len(bars)
    for i, c in enumerate(bars):
        d.rectangle([round(i * bw), 0, round((i + 1) * bw) - 1, size // 3], fill=c)
    step = size // 8
    for k in range(0, size + 1, step):
        d.line([(k, size // 3), (k, size)], fill=(200, 200, 200), width=1)
        if k >= size // 3:
            d.line([(0, k), (size, k)], fill=(200, 200, 200), width=1)
    r = size // 4
    d.ellipse([size // 2 - r, 2 * size // 3 - r, size // 2 + r, 2 * size // 3 + r], outline=(255, 128, 0), width=3)
    for x, y in ((0, size // 3), (size - 12, size // 3), (0, size - 12), (size - 12, size - 12)):
        d.rectangle([x, y, x + 11, y + 11], fill=(255, 40, 40))
    d.text((size // 2, size // 2 + 4), "F", fill=(255, 255, 255), font=_font(size // 6), anchor="mm")
    ramp = np.linspace(0, 255, size, dtype=np.uint8)
    arr = np.asarray(im).copy()
    arr[size // 3: size // 3 + 10] = ramp[None, :, None]
    return Image.fromarray(arr)


def checkerboard(size: int = SAMPLE_SIZE, squares: int = 8) -> Image.Image:
    """Black and white squares: every straight line bends visibly under a warp."""
    idx = (np.arange(size) * squares // size)
    board = ((idx[:, None] + idx[None, :]) % 2).astype(np.uint8) * 255
    return Image.fromarray(board).convert("RGB")


def text_sample(size: int = SAMPLE_SIZE) -> Image.Image:
    """Lines of dark text on paper: shows how flips and shears read to a person."""
    im = Image.new("RGB", (size, size), (245, 240, 225))
    d = ImageDraw.Draw(im)
    d.text((size // 2, size // 5), "augviz", fill=(20, 20, 60), font=_font(size // 6), anchor="mm")
    for i, line in enumerate(["The quick brown", "fox jumps over", "the lazy dog.", "0123456789"]):
        d.text((12, size // 3 + i * size // 7), line, fill=(30, 30, 30), font=_font(size // 12))
    return im


def scene(size: int = SAMPLE_SIZE) -> Image.Image:
    """A synthetic landscape: sky, sun, hills, a house and a tree, with soft gradients and texture."""
    y = np.linspace(0, 1, size)[:, None, None]
    sky = (1 - y) * np.array([90, 150, 230]) + y * np.array([200, 225, 250])
    arr = np.broadcast_to(sky, (size, size, 3)).copy()
    rng = np.random.default_rng(7)
    xs = np.arange(size)
    for k, (base, amp, col) in enumerate(((0.62, 0.06, (70, 140, 60)), (0.72, 0.05, (50, 110, 45)))):
        ridge = size * (base + amp * np.sin(xs / size * (3 + 2 * k) * math.pi + k))
        mask = np.arange(size)[:, None] > ridge[None, :]
        shade = np.array(col) * (0.9 + 0.2 * rng.random((size, size, 1)))
        arr = np.where(mask[..., None], shade, arr)
    im = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    s = size / 256
    d.ellipse([190 * s, 25 * s, 235 * s, 70 * s], fill=(255, 220, 80))
    d.rectangle([60 * s, 150 * s, 120 * s, 200 * s], fill=(200, 80, 60))
    d.polygon([(52 * s, 150 * s), (90 * s, 115 * s), (128 * s, 150 * s)], fill=(120, 50, 40))
    d.rectangle([82 * s, 172 * s, 98 * s, 200 * s], fill=(80, 50, 30))
    d.rectangle([165 * s, 150 * s, 175 * s, 205 * s], fill=(100, 70, 40))
    d.ellipse([145 * s, 105 * s, 195 * s, 160 * s], fill=(40, 120, 50))
    return im


BUILTIN: dict[str, tuple[str, Callable[[], Image.Image]]] = {
    "test_card": ("Test card", colour_card),
    "checkerboard": ("Checkerboard", checkerboard),
    "text": ("Text", text_sample),
    "scene": ("Landscape", scene),
}


def builtin(name: str) -> Image.Image:
    """A built-in sample by name (KeyError for an unknown name)."""
    return BUILTIN[name][1]()


def decode_upload(data: bytes, filename: str = "upload") -> Image.Image:
    """Decode untrusted bytes into an 8-bit RGB image, or raise ImageError with a message for people."""
    if not data:
        raise ImageError(f"{filename} is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(f"{filename} is {len(data) / 2**20:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module="PIL.TiffImagePlugin")  # bad EXIF
            im = Image.open(io.BytesIO(data), formats=FORMATS)
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise ImageError(f"{filename} is {w}×{h} pixels; the limit is {MAX_PIXELS / 1e6:.0f} megapixels.")
            im.seek(0)
            im.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{filename} claims a size far larger than its file (a decompression bomb); refused.") \
            from None
    except UnidentifiedImageError:
        raise ImageError(f"{filename} is not an image augviz can read (PNG, JPEG, WEBP, BMP, GIF or TIFF).") \
            from None
    except ValueError as e:
        # PIL's words for its two guards on PNG text metadata: one chunk unpacked, all chunks together.
        limit = {"MAX_TEXT_CHUNK": PngImagePlugin.MAX_TEXT_CHUNK, "text chunks": PngImagePlugin.MAX_TEXT_MEMORY}
        over = next((size for words, size in limit.items() if words in str(e)), None)
        if over is not None:
            raise ImageError(f"{filename}: its text metadata unpacks to more than {over // 2**20} MB, more than any "
                             "picture needs; refused. Save the picture without its metadata.") from None
        raise ImageError(f"{filename} is damaged or truncated and cannot be decoded.") from None
    except (OSError, SyntaxError, EOFError, MemoryError, IndexError, TypeError, struct.error):
        raise ImageError(f"{filename} is damaged or truncated and cannot be decoded.") from None
    return to_rgb(im)


_NOT_FILES = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISDIR, "a folder"), (stat.S_ISSOCK, "a socket"),
              (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))


def decode_file(path: Path) -> Image.Image:
    """An image file on disk, with the same limits and messages as an upload (ImageError names the file).

    Only a regular file is read. A named pipe, a device, a socket or a folder is refused without waiting on it:
    the file is opened non-blocking (a pipe with no writer would otherwise block the open for ever) and what it
    is comes from the open descriptor, so it cannot be swapped between the check and the read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise ImageError(f"{path.name} cannot be read ({e.strerror or e}).") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            what = next((words for test, words in _NOT_FILES if test(info.st_mode)), "not a regular file")
            raise ImageError(f"{path.name} is {what}, not a file.")
        if info.st_size > MAX_UPLOAD_BYTES:  # refused before a byte is read
            raise ImageError(f"{path.name} is {info.st_size / 2**20:.1f} MB; the limit is "
                             f"{MAX_UPLOAD_BYTES // 2**20} MB.")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_UPLOAD_BYTES + 1)  # a file that grew since fstat is still bounded
    except OSError as e:
        raise ImageError(f"{path.name} cannot be read ({e.strerror or e}).") from None
    finally:
        os.close(fd)
    return decode_upload(data, path.name)


# What PIL raises for damaged metadata: a bad TIFF header in the EXIF block (SyntaxError), a short IFD
# (struct.error), offsets past the end (ValueError, IndexError), odd tag types (TypeError, KeyError).
_METADATA_ERRORS = (SyntaxError, struct.error, ValueError, IndexError, TypeError, KeyError, OSError, EOFError)
_ORIENTATION = 0x0112
_TURNS = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
          5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
          8: Image.Transpose.ROTATE_90}


def orientation(im: Image.Image) -> int:
    """The EXIF orientation (1 to 8; 1 is upright), or 1 when the metadata is missing or damaged."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Corrupt EXIF data" is expected from untrusted files
            value = im.getexif().get(_ORIENTATION, 1)
    except _METADATA_ERRORS:
        return 1
    return value if isinstance(value, int) and value in _TURNS else 1


def to_rgb(im: Image.Image, max_side: int | None = MAX_DECODED_SIDE) -> Image.Image:
    """Any PIL mode as 8-bit RGB, upright per its EXIF orientation (as stored when that is damaged);
    transparency composited on mid-grey. A picture longer than ``max_side`` is first reduced by a whole factor
    (box average), so that the conversions below never hold more than a few copies of a small image."""
    turn = orientation(im)
    if im.mode.startswith("I") or im.mode == "F":
        im = Image.fromarray(_to_8bit(im), "L")
    elif im.mode == "1":
        im = im.convert("L")
    elif im.mode == "P":
        im = im.convert("RGBA")
    if max_side and max(im.size) > max_side:
        im = im.reduce(math.ceil(max(im.size) / max_side))
    if turn in _TURNS:
        im = im.transpose(_TURNS[turn])
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        im = Image.alpha_composite(background, rgba)
    return im.convert("RGB")


def _to_8bit(im: Image.Image, rows: int = 256) -> np.ndarray:
    """Wide grey levels to 0..255: 16-bit by its full scale; 32-bit int and float by the range they use.
    Converted a band of rows at a time, so a 40-megapixel picture needs no full-size float copy."""
    arr = np.asarray(im)
    top = float(arr.max()) if arr.size else 0.0
    if im.mode.startswith("I;16") or (im.mode == "I" and 255 < top <= 65535):
        scale = 255 / 65535
    elif im.mode == "F" and top <= 1.0:
        scale = 255.0
    elif top <= 255:
        scale = 1.0
    else:
        scale = 255 / top
    out = np.empty(arr.shape, np.uint8)
    for i in range(0, arr.shape[0], rows):
        band = arr[i:i + rows].astype(np.float64) * scale
        out[i:i + rows] = band.round().clip(0, 255)
    return out


def fit(im: Image.Image, side: int = PREVIEW_SIDE) -> Image.Image:
    """Shrink so the longer side is at most ``side`` pixels (never enlarges)."""
    if max(im.size) <= side:
        return im
    scale = side / max(im.size)
    return im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.LANCZOS)


def to_tensor(im: Image.Image) -> torch.Tensor:
    """PIL image → C×H×W float tensor in [0, 1]."""
    arr = np.asarray(im, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[..., None]
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255


def to_pil(x: torch.Tensor) -> Image.Image:
    """C×H×W float tensor in [0, 1] → PIL image (RGB or L)."""
    arr = (x.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)


def thumbnail(x: torch.Tensor, width: int) -> Image.Image:
    """C×H×W float tensor → PIL image at most ``width`` pixels wide (see ``thumbnails``)."""
    return thumbnails(x.unsqueeze(0), width)[0]


def thumbnails(x: torch.Tensor, width: int) -> list[Image.Image]:
    """B×C×H×W float tensor → PIL images at most ``width`` pixels wide: what a page shows at that width, so the
    server encodes and the browser fetches no more pixels than are drawn. The batch is shrunk (antialiased
    bilinear, as PIL's own reduction) and converted to 8 bits in one go, not image by image."""
    c, h, w = x.shape[1:]
    x = x.detach().cpu()
    if w > width:
        size = (max(1, round(h * width / w)), width)
        x = torch.nn.functional.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    arr = (x.clamp(0, 1) * 255).round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
    return [Image.fromarray(a[..., 0] if c == 1 else a) for a in arr]


def grid(images: torch.Tensor, columns: int, pad: int = 2, background: float = 1.0) -> Image.Image:
    """Tile B×C×H×W images into one picture, ``columns`` wide, with ``pad`` pixels between tiles."""
    b, c, h, w = images.shape
    rows = math.ceil(b / columns)
    canvas = torch.full((c, rows * (h + pad) - pad, columns * (w + pad) - pad), background)
    for i in range(b):
        r, k = divmod(i, columns)
        canvas[:, r * (h + pad): r * (h + pad) + h, k * (w + pad): k * (w + pad) + w] = images[i]
    return to_pil(canvas)


def data_url(im: Image.Image, quality: int = 90) -> str:
    """A small picture as a JPEG ``data:`` URL, for a page to embed: the browser gets it with the page instead
    of fetching it, which for a grid of thumbnails saves a request, and its cost, per tile."""
    buf = io.BytesIO()
    im.convert("RGB" if im.mode not in ("RGB", "L") else im.mode).save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()

