"""Wheel build hook: compile the bundled YAML into the marshal file the wheel ships.

An installed package then starts without PyYAML and pydantic (see
``normalizer._formats.registry``): the compiled file's key is a BLAKE2b digest of its
sources (folder and file name, length, bytes) and the package version, and the
wheel carries the same files under ``normalizer/_data/``, so the compiled file is fresh
where it is installed. (Its recorded sizes, modification and change times and
inodes differ there: the first start checks the content once and records the
installed files' own, when the folder is writable.) A
Python whose marshal format differs recompiles once, into the user's cache
folder (``normalizer._formats.compiled.cache_path``) when site-packages is read-only.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CompiledStoreHook(BuildHookInterface[Any]):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        sys.path.insert(0, self.root)
        try:
            from normalizer._formats.compile import compile_bundled
            from normalizer._formats.compiled import fingerprint, stamp, stat_fingerprint, write_compiled
        finally:
            sys.path.remove(self.root)
        stats = stat_fingerprint()
        fp = fingerprint()
        data = stamp(compile_bundled(), fp, stats)
        out = Path(tempfile.mkdtemp(prefix="normalizer-compiled-")) / "_compiled.marshal"
        if not write_compiled(data, out):
            raise RuntimeError(f"could not write the compiled rules file to {out}")
        self._out = out
        build_data["force_include"][os.fspath(out)] = "normalizer/_compiled.marshal"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        out = getattr(self, "_out", None)
        if out is not None:
            out.unlink(missing_ok=True)
            out.parent.rmdir()
