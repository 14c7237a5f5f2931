"""Declarative connector templates: a YAML manifest (requests, auth, pagination, record selection,
cursors, writers) validated by a JSON Schema and run by a small engine, instead of a Python class."""

from __future__ import annotations

from connectors.manifest.components import Manifest, ManifestError, load_manifest
from connectors.manifest.interpolation import InterpolationError
from connectors.manifest.schema import MANIFEST_SCHEMA, manifest_problems
from connectors.manifest.template import ManifestRunner, ManifestTemplate, manifest_template

__all__ = [
    "MANIFEST_SCHEMA",
    "InterpolationError",
    "Manifest",
    "ManifestError",
    "ManifestRunner",
    "ManifestTemplate",
    "load_manifest",
    "manifest_problems",
    "manifest_template",
]
