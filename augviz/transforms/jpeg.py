"""JPEG compression artefacts: each image saved as a JPEG at a random quality and decoded again, the blocks,
ringing and colour bleeding of photographs that went through a camera, a website or a messenger."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from augviz.spec import int_span
from augviz.transform import NOISE, Transform, randint, register

# The "does nothing" quality: the codec is skipped and the image passes unchanged (a real JPEG at 100 still rounds
# every level to 8 bits and shifts some colours): the parameter spec's identity, where strength 0 puts it.
LOSSLESS = 100


def roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """One H×W×C uint8 image through a JPEG encoder at ``quality`` (1–99) and back: colour as one RGB JPEG (with
    Pillow's usual chroma subsampling), any other number of channels each as its own greyscale JPEG."""
    planes = [Image.fromarray(image, "RGB")] if image.shape[2] == 3 else \
        [Image.fromarray(np.ascontiguousarray(image[..., c]), "L") for c in range(image.shape[2])]
    decoded = []
    for plane in planes:
        buffer = io.BytesIO()
        plane.save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        with Image.open(buffer) as im:
            decoded.append(np.array(im))
    return decoded[0] if image.shape[2] == 3 else np.stack(decoded, axis=-1)


@register
class Jpeg(Transform):
    name = "jpeg"
    label = "JPEG"
    category = NOISE
    description = ("Save each image as a JPEG at a random quality and decode it again: the blocks and ringing of "
                   "compressed photographs.")
    formula = (r"x' = \mathrm{decode}(\mathrm{encode_{JPEG}}(\lfloor 255x \rceil, q)) / 255,\quad "
               r"q \sim U\{q_{lo}, \dots, q_{hi}\}")
    params = (int_span("quality", 1, LOSSLESS, (40, 90),
                       "JPEG quality drawn per image: lower means stronger blocks and ringing; 100 leaves the image "
                       "as it is.", identity=LOSSLESS),)
    default_p = 0.5
    # The preview budget's relative cost: 16 draws of the 256-px test card take about 60 ms of one core to encode
    # and decode, against 5 to 14 ms for a plain colour step or resample.
    cost = 6.0

    def sample(self, cfg, n, g):
        return {"quality": randint(g, n, cfg["quality"])}

    def kernel(self, x, cfg, params):
        quality = params["quality"].tolist()
        todo = [i for i, q in enumerate(quality) if q < LOSSLESS]
        if not todo:
            return x
        index = torch.tensor(todo, device=x.device)
        # One conversion for the batch; the codec then runs image by image, as every JPEG library does.
        u8 = x[index].mul(255).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        out = np.stack([roundtrip(u8[k], quality[i]) for k, i in enumerate(todo)])
        x[index] = torch.from_numpy(out).permute(0, 3, 1, 2).to(x.device, x.dtype).div_(255)
        return x
