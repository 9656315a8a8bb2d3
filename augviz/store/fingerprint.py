"""A run's fingerprint: what decides its result (its configuration less the fields that do not), as text, and the
short key of it that the store keeps beside each run so that a plan's runs are found by an index, not by reading
every stored run.

A key is ``<field-set tag>:<hash of the fingerprint>``. The tag names the configuration fields the fingerprint was
taken over: a key written when the configuration had other fields (an older version, before a field existed)
says so, and is taken again with this version's defaults for the fields its text lacks (``Store.serving``).
Works on configuration documents (dicts), so that the store needs no torch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

# Fields that do not change what a run learns: two runs that differ only there are the same run.
IGNORED = ("name", "group", "threads", "download")
UNREADABLE = "-"  # the hash part of the key of a stored text that is no configuration object: it matches nothing


def text(doc: Mapping[str, Any]) -> str:
    """The fingerprint of a configuration document (``RunConfig.to_dict``'s form): the document less ``IGNORED``."""
    return json.dumps({k: v for k, v in doc.items() if k not in IGNORED}, sort_keys=True, separators=(",", ":"))


def tag(fields: Iterable[str]) -> str:
    """The tag of a set of configuration fields (those of ``IGNORED`` aside)."""
    names = "\n".join(sorted(set(fields) - set(IGNORED)))
    return hashlib.sha256(names.encode()).hexdigest()[:8]


def key(doc: Mapping[str, Any], fields: Iterable[str] | None = None) -> str:
    """The key of a configuration document, tagged with its version's ``fields`` (by default the document's own:
    ``RunConfig.to_dict`` writes them all)."""
    return f"{tag(doc if fields is None else fields)}:{hashlib.sha256(text(doc).encode()).hexdigest()[:32]}"


def stored_key(config_json: str, defaults: Mapping[str, Any]) -> str:
    """The key of a stored configuration's text in the version whose fields and defaults are ``defaults``: a field
    the text lacks (written before it existed) takes its default, as reading the run would. A text that is no
    configuration object, or one with fields this version does not know (a newer version's), gets a key that matches
    no plan of this version, tagged as this version's so that it is not taken again."""
    try:
        doc = json.loads(config_json)
    except (ValueError, RecursionError):
        doc = None
    if not isinstance(doc, dict):
        return f"{tag(defaults)}:{UNREADABLE}"
    return key({**defaults, **doc}, defaults)
