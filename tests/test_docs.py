"""The README's table of transforms is generated from the registry and must match it."""

from pathlib import Path

from augviz.docs import END, START, transforms_table

README = Path(__file__).parents[1] / "README.md"


def test_readme_lists_every_transform_as_the_registry_says():
    text = README.read_text()
    assert START in text and END in text, "README lost its transforms table markers"
    table = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert table == transforms_table(), "README is stale: run `python -m augviz.docs` and paste the table"
