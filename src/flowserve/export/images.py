"""Which image each executor runs and how its container starts it.

``uses: docker://image`` runs that image as is: it must contain flowserve and an executor YAML
``config.yml`` in its working directory (what ``flowserve export dockerfile`` builds). An
executor given as a Python class gets an image built from the flowserve base image plus the
files that define it: its module (or package) and its ``py_modules``, laid out under ``/app`` as
they are under the Flow's directory. Resolving a class imports it, exactly as ``flowserve flow``
would, so a bad ``uses`` fails here, naming the executor, before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.machinery import PathFinder
from pathlib import Path, PurePosixPath
from typing import Any

from .._version import __version__
from ..config.imports import is_path
from ..config.loader import resolve_executor
from ..config.spec import ExecutorSpec, FlowSpec
from ..executor import Executor
from ._common import ExportError, base_image, k8s_name

__all__ = ["APP_DIR", "ExecutorImage", "FileCopy", "plan_image", "plan_images"]

APP_DIR = "/app"
"""Working directory of executor images; modules are resolved from here."""
DOCKER_SCHEME = "docker://"
IMAGE_CONFIG = "config.yml"
"""The executor YAML a ``docker://`` image carries in its working directory (Jina's convention)."""


@dataclass(frozen=True)
class FileCopy:
    """A file or package directory to copy into an image, to ``/app/<dest>``."""

    source: Path
    dest: str
    """A relative POSIX path below ``/app``."""


@dataclass(frozen=True)
class ExecutorImage:
    """How one executor's container is made and started."""

    image: str
    uses: str | None
    """``--uses`` inside the container; None for the base Executor (a pass-through)."""
    uses_with: dict[str, Any] = field(default_factory=dict)
    uses_metas: dict[str, Any] = field(default_factory=dict)
    py_modules: tuple[str, ...] = ()
    """``--py-modules`` as seen inside the container."""
    base_dir: str | None = None
    """``--base-dir`` inside the container; None keeps the image's working directory."""
    build: bool = False
    """Whether ``flowserve export dockerfile`` writes a Dockerfile for this image."""
    files: tuple[FileCopy, ...] = ()
    requirements: Path | None = None
    """A requirements.txt to pip-install into the image."""


def plan_images(spec: FlowSpec, *, version: str = __version__) -> dict[str, ExecutorImage]:
    """Executor name -> its image plan, for every executor that is not external."""
    return {ex.name: plan_image(ex, spec, version=version)
            for ex in spec.executors if not ex.external}


def plan_image(ex: ExecutorSpec, spec: FlowSpec, *, version: str = __version__) -> ExecutorImage:
    """The image plan of one executor (see the module docstring)."""
    if isinstance(ex.uses, str) and ex.uses.startswith(DOCKER_SCHEME):
        image = ex.uses[len(DOCKER_SCHEME):]
        if not image:
            raise ExportError(f"executor {ex.name!r}: uses {ex.uses!r} names no image")
        if ex.image and ex.image != image:
            raise ExportError(f"executor {ex.name!r}: image {ex.image!r} contradicts uses "
                              f"{ex.uses!r}; give the image in one place")
        return ExecutorImage(image=image, uses=IMAGE_CONFIG, uses_with=dict(ex.uses_with),
                             uses_metas=dict(ex.uses_metas), py_modules=tuple(ex.py_modules))
    resolved = resolve_executor(ex, spec.base_dir)
    base = resolved.base_dir.resolve()
    if resolved.cls is Executor:
        return ExecutorImage(image=ex.image or base_image(version), uses=None,
                             uses_with=resolved.uses_with, uses_metas=resolved.uses_metas)
    copies: dict[str, FileCopy] = {}
    uses = _container_ref(resolved.ref, base, copies, ex.name)
    py_modules = tuple(_container_module(m, base, copies, ex.name) for m in resolved.py_modules)
    requirements = base / "requirements.txt"
    return ExecutorImage(
        image=ex.image or f"flowserve-{k8s_name(ex.name)}:{version}",
        uses=uses,
        uses_with=resolved.uses_with,
        uses_metas=resolved.uses_metas,
        py_modules=py_modules,
        base_dir=APP_DIR,
        build=True,
        files=tuple(copies[k] for k in sorted(copies)),
        requirements=requirements if requirements.is_file() else None,
    )


def _container_ref(ref: str, base: Path, copies: dict[str, FileCopy], who: str) -> str:
    """`ref` ('module:Qual' or '/abs/file.py:Qual') as the container sees it, recording copies."""
    module_part, qualname = ref.rsplit(":", 1)
    if is_path(module_part):
        return f"{_copy_path(Path(module_part), base, copies, who)}:{qualname}"
    _copy_module(module_part, base, copies, who)
    return ref


def _container_module(entry: str, base: Path, copies: dict[str, FileCopy], who: str) -> str:
    if is_path(entry):
        return _copy_path(Path(entry), base, copies, who)
    _copy_module(entry, base, copies, who)
    return entry


def _copy_path(path: Path, base: Path, copies: dict[str, FileCopy], who: str) -> str:
    """Copy a file (or, for ``__init__.py``, its package) and return its path below /app."""
    path = path.resolve()
    source = path.parent if path.name == "__init__.py" else path
    dest = _dest(source, base)
    _add(copies, FileCopy(source=source, dest=dest), who)
    inside = PurePosixPath(dest) / "__init__.py" if source != path else PurePosixPath(dest)
    return str(inside)


def _copy_module(module_name: str, base: Path, copies: dict[str, FileCopy], who: str) -> None:
    """Copy the top-level package or module of `module_name` if it is in the Flow's folder.

    That is where the container looks first (``--base-dir /app``), so it is looked up there the
    same way, not in ``sys.modules``. Modules from elsewhere (site-packages) are not copied:
    install them in the image with a requirements.txt beside the Flow file.
    """
    top = module_name.split(".")[0]
    found = PathFinder.find_spec(top, [str(base)])
    if found is None:
        return
    if found.submodule_search_locations:  # a package (regular or namespace)
        source = Path(next(iter(found.submodule_search_locations))).resolve()
    elif found.origin:
        source = Path(found.origin).resolve()
    else:
        return
    _add(copies, FileCopy(source=source, dest=source.name), who)


def _dest(source: Path, base: Path) -> str:
    """Where `source` goes below /app: its place under the Flow's folder, else its name."""
    if source.is_relative_to(base):
        return PurePosixPath(*source.relative_to(base).parts).as_posix()
    return source.name


def _add(copies: dict[str, FileCopy], copy: FileCopy, who: str) -> None:
    known = copies.get(copy.dest)
    if known is not None and known.source != copy.source:
        raise ExportError(f"executor {who!r}: {str(copy.source)!r} and {str(known.source)!r} "
                          f"would both be copied to {APP_DIR}/{copy.dest}; rename one")
    copies[copy.dest] = copy
