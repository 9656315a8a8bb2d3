"""Registry entries. Importing this package registers every transform, in the order the UI lists them."""

from augviz.transforms import geometric, photometric, noise, occlusion, mixing, policies  # noqa: F401
