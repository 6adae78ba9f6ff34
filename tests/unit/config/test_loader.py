"""Resolving `uses` to Executor classes: flowserve.config.loader."""

from __future__ import annotations

import pickle
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowserve.config.loader import (
    ResolvedExecutor,
    class_ref,
    load_executor_class,
    resolve_executor,
)
from flowserve.config.spec import ExecutorSpec, load_flow
from flowserve.errors import ConfigError, ExecutorLoadError
from flowserve.executor import Executor

DATA = (Path(__file__).resolve().parents[2] / "data").resolve()
HEAVY = "HeavyExecutorLinkerdDemo"


class ModuleLevel(Executor):
    """An executor defined at module level in this test module."""


@pytest.fixture(autouse=True)
def isolated_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run from an unrelated cwd; afterwards drop modules imported from test data, restore path."""
    monkeypatch.chdir(tmp_path)
    before_modules = set(sys.modules)
    before_path = list(sys.path)
    yield
    assert sys.path == before_path, "the loader must restore sys.path"
    roots = (str(DATA), str(tmp_path.resolve()))
    for name in set(sys.modules) - before_modules:
        file = getattr(sys.modules[name], "__file__", None) or ""
        if name.startswith("flowserve_file_") or str(Path(file).resolve()).startswith(roots):
            del sys.modules[name]


def load(uses: str | type | None, *, py_modules: tuple[str, ...] = (), base_dir: Path = DATA,
         name: str = "ex") -> type[Executor]:
    return load_executor_class(uses, py_modules=py_modules, base_dir=base_dir, executor_name=name)


def load_error(uses: str | type | None, **kwargs: object) -> str:
    with pytest.raises(ExecutorLoadError) as info:
        load(uses, **kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, ConfigError)
    return str(info.value)


# --- the reference forms ---------------------------------------------------------------------


def test_none_is_the_base_executor() -> None:
    assert load(None) is Executor


def test_class_is_returned_as_is() -> None:
    assert load(ModuleLevel) is ModuleLevel


def test_non_executor_class_is_rejected() -> None:
    message = load_error(dict, name="slow_executor")
    assert message.startswith("executor 'slow_executor': class 'dict' is not an Executor subclass")


def test_module_colon_class_resolves_from_base_dir_not_cwd() -> None:
    assert "linkerd_executors" not in sys.modules
    cls = load(f"linkerd_executors:{HEAVY}")
    assert cls.__name__ == HEAVY and issubclass(cls, Executor)
    assert cls.__module__ == "linkerd_executors"
    assert Path(sys.modules["linkerd_executors"].__file__ or "") == DATA / "linkerd_executors.py"


def test_dotted_module_class() -> None:
    assert load(f"linkerd_executors.{HEAVY}") is load(f"linkerd_executors:{HEAVY}")


def test_package_paths_and_nested_classes() -> None:
    dotted = load("fs_pkg.nested.Outer.Inner")
    assert dotted is load("fs_pkg.nested:Outer.Inner")
    assert dotted.__qualname__ == "Outer.Inner"
    assert load("fs_pkg._base.Base") is dotted.__mro__[1]


def test_file_path_relative_and_absolute() -> None:
    relative = load(f"linkerd_executors.py:{HEAVY}")
    absolute = load(f"{DATA / 'linkerd_executors.py'}:{HEAVY}", base_dir=Path("/"))
    assert relative is absolute  # one stable module per file, imported once
    assert relative.__module__.startswith("flowserve_file_linkerd_executors_")
    assert sys.modules[relative.__module__].__file__ == str(DATA / "linkerd_executors.py")


def test_file_without_class_uses_its_only_executor() -> None:
    assert load("linkerd_executors.py").__name__ == HEAVY


def test_file_without_class_and_several_executors(tmp_path: Path) -> None:
    (tmp_path / "two.py").write_text(textwrap.dedent("""
        from flowserve.executor import Executor
        class A(Executor): pass
        class B(Executor): pass
    """))
    message = load_error("two.py", base_dir=tmp_path)
    assert "defines 2 Executor classes (A, B); write 'two.py:ClassName'" in message


def test_bare_class_from_py_modules_file() -> None:
    cls = load(HEAVY, py_modules=("linkerd_executors.py",))
    assert cls is load(f"linkerd_executors.py:{HEAVY}")


def test_bare_class_from_py_modules_module_name() -> None:
    assert load(HEAVY, py_modules=("linkerd_executors",)).__module__ == "linkerd_executors"


def test_bare_executor_name_is_the_base_class() -> None:
    assert load("Executor") is Executor


def test_bare_class_without_py_modules() -> None:
    message = load_error(HEAVY, name="slow_executor")
    assert message.startswith(f"executor 'slow_executor': uses '{HEAVY}' is a bare class name but "
                              "no py_modules are given")


def test_bare_class_not_in_py_modules() -> None:
    message = load_error("Missing", py_modules=("linkerd_executors.py",))
    assert ("class 'Missing' (from uses 'Missing') not found in py_modules "
            "['linkerd_executors.py']") in message


# --- failures --------------------------------------------------------------------------------


def test_import_failure_names_executor_module_and_cause() -> None:
    message = load_error("broken_executors:Slow", name="slow_executor")
    assert message == ("executor 'slow_executor': cannot import module 'broken_executors' "
                       "(from uses 'broken_executors:Slow'): No module named 'numpyy'")


def test_import_failure_of_py_module_file() -> None:
    message = load_error("Slow", py_modules=("broken_executors.py",), name="slow_executor")
    assert message.startswith("executor 'slow_executor': cannot import module "
                              "'broken_executors.py' (from py_modules of uses 'Slow'): ")
    assert message.endswith("No module named 'numpyy'")
    assert not [m for m in sys.modules if m.startswith("flowserve_file_broken")]


def test_missing_module() -> None:
    message = load_error("no_such_module:Thing")
    assert message == ("executor 'ex': cannot import module 'no_such_module' (from uses "
                       "'no_such_module:Thing'): No module named 'no_such_module'")


def test_missing_dotted_module_reports_the_full_module() -> None:
    assert "No module named 'fs_pkg.missing'" in load_error("fs_pkg.missing.Thing")


def test_missing_class_names_module_and_class() -> None:
    message = load_error("linkerd_executors:Nope", name="bulky_executor")
    assert message == ("executor 'bulky_executor': module 'linkerd_executors' has no class 'Nope' "
                       "(from uses 'linkerd_executors:Nope'); "
                       f"Executor classes it defines: {HEAVY}")


def test_not_an_executor_subclass() -> None:
    message = load_error("linkerd_executors:NotAnExecutor")
    assert message.startswith("executor 'ex': linkerd_executors:NotAnExecutor (from uses "
                              "'linkerd_executors:NotAnExecutor') is not an Executor subclass")


def test_missing_file() -> None:
    message = load_error("nowhere/file.py:X")
    assert f"file '{DATA / 'nowhere' / 'file.py'}' not found" in message
    assert message.startswith("executor 'ex': cannot import module 'nowhere/file.py'")


def test_syntax_error_in_file(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("class X(:\n")
    assert "cannot import module 'bad.py' (from uses 'bad.py:X'): " in load_error(
        "bad.py:X", base_dir=tmp_path)


@pytest.mark.parametrize(
    ("uses", "fragment"),
    [
        ("docker://me/heavy:latest", "is a Docker image; it can only be exported"),
        ("jinahub://HeavyExecutorLinkerdDemo", ("Executor Hub, which is not supported here; use a "
                                               "local Executor class")),
        ("jinahub+docker://HeavyExecutorLinkerdDemo", "Executor Hub, which is not supported"),
        ("s3://bucket/x.py", "unsupported uses scheme 's3'"),
    ],
)
def test_remote_references_are_rejected(uses: str, fragment: str) -> None:
    message = load_error(uses, name="slow_executor")
    assert message.startswith("executor 'slow_executor': ")
    assert fragment in message


def test_sys_path_restored_after_failure() -> None:
    before = list(sys.path)
    load_error("broken_executors:Slow")
    assert sys.path == before


# --- executor YAML ---------------------------------------------------------------------------


def test_executor_yaml_class() -> None:
    assert load("heavy_executor.yml") is load(f"linkerd_executors.py:{HEAVY}")


def test_resolve_executor_yaml_merges_with_and_metas_flow_wins() -> None:
    spec = ExecutorSpec(name="heavy", uses="heavy_executor.yml", uses_with={"sleep": 0},
                        uses_metas={"extra": 1})
    resolved = resolve_executor(spec, DATA)
    assert resolved.cls.__name__ == HEAVY
    assert resolved.uses_with == {"n_dim": 16, "sleep": 0}
    assert resolved.uses_metas == {"description": "a heavy demo executor", "extra": 1}
    assert resolved.ref == f"{DATA / 'linkerd_executors.py'}:{HEAVY}"
    assert resolved.py_modules == (str(DATA / "linkerd_executors.py"),)


def test_executor_yaml_in_subdirectory_resolves_py_modules_from_its_dir(tmp_path: Path) -> None:
    sub = tmp_path / "execs"
    sub.mkdir()
    (sub / "impl.py").write_text("from flowserve.executor import Executor\n"
                                 "class Impl(Executor): pass\n")
    (sub / "impl.yml").write_text("jtype: Impl\npy_modules: impl.py\nwith: {a: 1}\n")
    resolved = resolve_executor(ExecutorSpec(name="e", uses="execs/impl.yml"), tmp_path)
    assert resolved.cls.__name__ == "Impl"
    assert resolved.uses_with == {"a": 1}
    assert resolved.base_dir == sub.resolve()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("jtype: X\nwith: {}\nrequests: {}\n", ":3: unknown key 'requests' in executor YAML"),
        ("with: {a: 1}\n", "jtype must name the Executor class"),
        ("jtype: X\nwith: [1]\n", ":2: with must be a mapping"),
        ("- jtype\n", "an executor YAML must be a mapping"),
        ("jtype: X\nwith: {a: 1\n", ":3: invalid YAML"),
        ("jtype: other.yml\n", "must be a class, not another YAML file"),
    ],
)
def test_executor_yaml_errors(tmp_path: Path, text: str, fragment: str) -> None:
    (tmp_path / "e.yml").write_text(text)
    message = load_error("e.yml", base_dir=tmp_path, name="bulky_executor")
    assert message.startswith(f"executor 'bulky_executor': {tmp_path.resolve() / 'e.yml'}")
    assert fragment in message


def test_executor_yaml_not_found() -> None:
    message = load_error("missing.yml", name="bulky_executor")
    assert message.startswith("executor 'bulky_executor': cannot read executor YAML 'missing.yml'")


# --- whole flows -----------------------------------------------------------------------------


def test_seed_flow_executors_resolve_from_the_flow_dir() -> None:
    spec = load_flow(DATA / "flow.yml")
    slow, bulky = (resolve_executor(e, spec.base_dir) for e in spec.executors)
    assert slow.cls.__name__ == bulky.cls.__name__ == HEAVY
    assert slow.uses_with == {"n_dim": -1, "sleep": 1}
    assert slow.ref == f"linkerd_executors:{HEAVY}"
    assert bulky.ref == f"{DATA / 'linkerd_executors.py'}:{HEAVY}"
    instance = slow.cls(**slow.uses_with, runtime_args={"name": "slow_executor"})
    assert (vars(instance)["n_dim"], vars(instance)["sleep"], instance.name) == (
        -1, 1, "slow_executor")


def test_py_modules_flow_resolves_every_executor() -> None:
    spec = load_flow(DATA / "flow_py_modules.yml")
    resolved = {e.name: resolve_executor(e, spec.base_dir) for e in spec.executors}
    assert resolved["heavy"].cls is resolved["from_yaml"].cls
    assert resolved["nested"].ref == "fs_pkg.nested:Outer.Inner"
    assert resolved["from_yaml"].uses_metas == {"description": "overridden by the Flow"}


def test_resolve_pass_through() -> None:
    resolved = resolve_executor(ExecutorSpec(name="echo"), DATA)
    assert resolved == ResolvedExecutor(cls=Executor, uses_with={}, uses_metas={},
                                        ref="flowserve.executor:Executor", base_dir=DATA)


@pytest.mark.parametrize("uses", [f"linkerd_executors:{HEAVY}", f"linkerd_executors.py:{HEAVY}",
                                  HEAVY, "heavy_executor.yml", "fs_pkg.nested.Outer.Inner"])
def test_ref_reimports_in_a_fresh_interpreter_state(uses: str) -> None:
    spec = ExecutorSpec(name="e", uses=uses, py_modules=["linkerd_executors.py"])
    resolved = resolve_executor(spec, DATA)
    module, qualname = resolved.cls.__module__, resolved.cls.__qualname__
    for name in [m for m in sys.modules if m.startswith(("flowserve_file_", "linkerd", "fs_pkg"))]:
        del sys.modules[name]  # what a new worker process would not have
    again = load_executor_class(resolved.ref, py_modules=resolved.py_modules,
                                base_dir=resolved.base_dir, executor_name="e")
    assert again is not resolved.cls
    assert (again.__module__, again.__qualname__) == (module, qualname)


# --- class_ref -------------------------------------------------------------------------------


def test_class_ref_module_level() -> None:
    assert class_ref(ModuleLevel) == f"{__name__}:ModuleLevel"
    assert class_ref(Executor) == "flowserve.executor:Executor"
    assert load(class_ref(ModuleLevel)) is ModuleLevel


def test_class_ref_rejects_local_classes() -> None:
    class Local(Executor):
        pass

    with pytest.raises(ExecutorLoadError, match="defined inside a function; define executors at "
                                                "module level"):
        class_ref(Local)
    with pytest.raises(ExecutorLoadError, match="executor 'loc': class .*inside a function"):
        resolve_executor(ExecutorSpec(name="loc", uses=Local), DATA)


def test_class_ref_main_maps_to_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "script.py"
    script.write_text("from flowserve.executor import Executor\nclass Script(Executor): pass\n")
    main = types.ModuleType("__main__")
    main.__file__ = "script.py"  # relative, as `python script.py` leaves it
    monkeypatch.setitem(sys.modules, "__main__", main)
    cls = type("Script", (Executor,), {"__module__": "__main__", "__qualname__": "Script"})
    ref = class_ref(cls)
    assert ref == f"{script.resolve()}:Script"
    loaded = load(ref, base_dir=Path("/"))
    assert loaded.__qualname__ == "Script" and loaded is not cls


def test_class_ref_interactive_main(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    cls = type("Repl", (Executor,), {"__module__": "__main__"})
    with pytest.raises(ExecutorLoadError, match="interactive session"):
        class_ref(cls)


def test_file_module_classes_pickle_by_reference() -> None:
    cls = load(f"linkerd_executors.py:{HEAVY}")
    assert pickle.loads(pickle.dumps(cls)) is cls
    assert class_ref(cls) == f"{DATA / 'linkerd_executors.py'}:{HEAVY}"
