"""Import the official Kubernetes client without its eager package imports.

``import kubernetes`` executes ``kubernetes/__init__.py``, which imports the
whole client: every API group class and all ~1,000 model classes (0.65 s of a
2-core machine's CPU, more than a passive diagnosis spends on the network).
netdoctor uses a handful of its modules: the kubeconfig loader, ``ApiClient``,
``CoreV1Api`` and the websocket ``stream``/``portforward``.

:func:`install` registers the four package modules whose ``__init__`` does the
eager importing (``kubernetes``, ``kubernetes.client``, ``kubernetes.client.api``,
``kubernetes.client.models``) as lazy packages (PEP 562): the same directories,
the same names, but each name the real ``__init__`` would bind is imported from
the submodule that real ``__init__`` names, on first access. The index is read
from that ``__init__``'s own ``from X import Y`` lines, so it follows the installed
client version. Any other module of the client is its own, unchanged.

If the client is already imported, or its layout is not the expected one,
nothing is installed and the normal import happens.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
import types

LAZY_PACKAGES = ("kubernetes", "kubernetes.client", "kubernetes.client.api", "kubernetes.client.models")
_FROM_IMPORT = re.compile(r"^from ([\w.]+) import (\w+)\s*$", re.M)


def install() -> bool:
    """Register the lazy packages; True when they are in place (now or already)."""
    if "kubernetes" in sys.modules:
        return isinstance(sys.modules["kubernetes"], _LazyPackage)
    spec = importlib.util.find_spec("kubernetes")  # locates the package without executing it
    if spec is None or not spec.submodule_search_locations:
        return False
    root = list(spec.submodule_search_locations)[0]
    dirs = {name: os.path.join(root, *name.split(".")[1:]) for name in LAZY_PACKAGES}
    if not all(os.path.isfile(os.path.join(d, "__init__.py")) for d in dirs.values()):
        return False
    modules = {}
    for name, directory in dirs.items():
        init = os.path.join(directory, "__init__.py")
        mod = _LazyPackage(name)
        mod.__file__ = init
        mod.__path__ = [directory]
        mod.__package__ = name
        mod.__spec__ = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[directory])
        modules[name] = mod
    for name, mod in modules.items():
        sys.modules[name] = mod
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(modules[parent], child, mod)
    return True


class _LazyPackage(types.ModuleType):
    """A package whose names are imported from their submodules on first access."""

    _index: dict[str, str] | None = None

    def _names(self) -> dict[str, str]:
        """name -> module it comes from, per the real ``__init__.py``'s ``from X import Y`` lines."""
        if self._index is None:
            with open(self.__file__, encoding="utf-8") as f:
                source = f.read()
            index: dict[str, str] = {}
            for module, name in _FROM_IMPORT.findall(source):
                if module == ".":
                    index[name] = f"{self.__name__}.{name}"  # ``from . import client``: a subpackage
                elif module.startswith("."):
                    index[name] = importlib.util.resolve_name(module, self.__name__)
                else:
                    index[name] = module
            for key, value in re.findall(r"^(__\w+__) = ['\"]([^'\"]*)['\"]", source, re.M):
                self.__dict__[key] = value  # __version__, __project__
            self._index = index
        return self._index

    def __getattr__(self, attr: str):
        if attr.startswith("__") and attr.endswith("__"):
            self._names()
            if attr in self.__dict__:
                return self.__dict__[attr]
            raise AttributeError(attr)
        source = self._names().get(attr)
        if source is None:
            try:
                value = importlib.import_module(f"{self.__name__}.{attr}")
            except ModuleNotFoundError:
                raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}") from None
        else:
            module = importlib.import_module(source)
            value = module if source == f"{self.__name__}.{attr}" else getattr(module, attr)
        setattr(self, attr, value)
        return value
