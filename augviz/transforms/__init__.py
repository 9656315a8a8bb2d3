"""Registry entries. Importing this package registers every transform, in the order the UI lists them."""

from augviz.transforms import geometric, mixing, noise, occlusion, photometric, policies  # noqa: F401
