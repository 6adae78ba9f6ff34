"""Images and Dockerfiles: which files go into an executor image, and that the executor loads
from the build context exactly as the container will load it."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap

import pytest
import yaml

from flowserve.cli.main import _parser
from flowserve.config.loader import load_executor_class
from flowserve.config.spec import load_flow
from flowserve.export import ExportError
from flowserve.export.dockerfile import base_dockerfile
from flowserve.export.images import plan_images
from flowserve.export.writer import export_dockerfiles

EXECUTOR = textwrap.dedent("""
    from flowserve import Executor, requests
    from {helper} import suffix


    class {cls}(Executor):
        @requests
        def foo(self, docs, **kwargs):
            for d in docs:
                d.text = (d.text or "") + suffix()
""")


@pytest.fixture
def project(tmp_path):
    """A Flow folder: a file executor in a sub-folder, a helper file, a requirements.txt."""
    (tmp_path / "encoders").mkdir()
    (tmp_path / "encoders" / "clip.py").write_text(
        EXECUTOR.format(helper="export_img_helper", cls="Clip"))
    (tmp_path / "export_img_helper.py").write_text("def suffix():\n    return '!'\n")
    (tmp_path / "requirements.txt").write_text("numpy\n")
    (tmp_path / "flow.yml").write_text(textwrap.dedent("""
        jtype: Flow
        executors:
          - name: clip_enc
            uses: encoders/clip.py:Clip
            py_modules: [export_img_helper.py]
            uses_with: {}
          - name: remote
            uses: docker://registry.example.com/remote:3
            uses_with: {k: 1}
          - name: passthrough
          - name: far
            external: true
            host: far.example.com
            port: 9000
    """))
    return tmp_path


def test_image_plans(project):
    spec = load_flow(project / "flow.yml")
    images = plan_images(spec)
    assert set(images) == {"clip_enc", "remote", "passthrough"}
    clip = images["clip_enc"]
    assert clip.image == "flowserve-clip-enc:0.1.0" and clip.build
    assert clip.uses == "encoders/clip.py:Clip"
    assert clip.py_modules == ("export_img_helper.py",)
    assert clip.base_dir == "/app"
    assert [(f.source.relative_to(project).as_posix(), f.dest) for f in clip.files] == [
        ("encoders/clip.py", "encoders/clip.py"),
        ("export_img_helper.py", "export_img_helper.py"),
    ]
    assert clip.requirements == project / "requirements.txt"
    remote = images["remote"]
    assert (remote.image, remote.uses, remote.build, remote.uses_with) == (
        "registry.example.com/remote:3", "config.yml", False, {"k": 1})
    passthrough = images["passthrough"]
    assert (passthrough.image, passthrough.uses, passthrough.build) == (
        "flowserve/flowserve:0.1.0", None, False)


def test_demo_executor_module_is_copied_by_module_name(demo_spec):
    image = plan_images(demo_spec)["slow_executor"]
    assert image.uses == "executor:HeavyExecutorLinkerdDemo"
    assert [f.dest for f in image.files] == ["executor.py"]


def test_docker_image_and_image_field_must_agree(project):
    text = (project / "flow.yml").read_text().replace(
        "uses_with: {k: 1}", "uses_with: {k: 1}\n    image: other:1")
    (project / "flow.yml").write_text(text)
    with pytest.raises(ExportError, match="executor 'remote': image 'other:1' contradicts"):
        plan_images(load_flow(project / "flow.yml"))


def test_dockerfile_build_context_loads_the_executor(project, tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    contexts = export_dockerfiles(load_flow(project / "flow.yml"), out)
    assert contexts == {str(out / "clip-enc"): "flowserve-clip-enc:0.1.0"}
    context = out / "clip-enc"
    assert sorted(p.relative_to(context).as_posix() for p in context.rglob("*")
                  if p.is_file()) == [
        "Dockerfile", "app/encoders/clip.py", "app/export_img_helper.py", "config.yml",
        "requirements.txt"]
    dockerfile = (context / "Dockerfile").read_text()
    assert "ARG FLOWSERVE_IMAGE=flowserve/flowserve:0.1.0\nFROM ${FLOWSERVE_IMAGE}" in dockerfile
    assert "COPY app/ /app/" in dockerfile and "RUN pip install" in dockerfile
    cmd = json.loads(dockerfile.split("CMD ", 1)[1].splitlines()[0])
    assert cmd[0] == "flowserve"
    args = _parser().parse_args(cmd[1:])
    assert (args.command, args.uses, args.py_modules, str(args.base_dir), args.port) == (
        "executor", "encoders/clip.py:Clip", ["export_img_helper.py"], "/app", 8080)
    # what the container does: load the class from /app (here: the context's app/ folder)
    app = context / "app"
    cls = load_executor_class(args.uses, py_modules=args.py_modules, base_dir=app,
                              executor_name="clip_enc")
    assert cls.__name__ == "Clip"
    assert sys.modules[cls.__module__].__file__.startswith(str(app))
    # and what `uses: docker://<image>` does: flowserve executor --uses config.yml
    assert yaml.safe_load((context / "config.yml").read_text()) == {
        "jtype": "encoders/clip.py:Clip", "py_modules": ["export_img_helper.py"]}
    shutil.copy(context / "config.yml", app / "config.yml")
    assert load_executor_class("config.yml", base_dir=app, executor_name="x").__name__ == "Clip"


def test_base_dockerfile_installs_flowserve_from_a_checkout(tmp_path, demo_spec):
    export_dockerfiles(demo_spec, tmp_path, base="registry.example.com/flowserve:0.1.0")
    base = (tmp_path / "flowserve-base" / "Dockerfile").read_text()
    assert base == base_dockerfile()
    assert "FROM python:3.11-slim" in base and "RUN pip install /src" in base
    ignore = (tmp_path / "flowserve-base" / "Dockerfile.dockerignore").read_text()
    assert "!src/" in ignore
    executor = (tmp_path / "slow-executor" / "Dockerfile").read_text()
    assert "ARG FLOWSERVE_IMAGE=registry.example.com/flowserve:0.1.0" in executor


def test_re_export_replaces_a_build_context(project, tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    spec = load_flow(project / "flow.yml")
    export_dockerfiles(spec, out)
    (out / "clip-enc" / "app" / "stale.py").write_text("")
    export_dockerfiles(spec, out)
    assert not (out / "clip-enc" / "app" / "stale.py").exists()


def test_packages_named_by_module_are_copied_whole(tmp_path, tmp_path_factory):
    pkg = tmp_path / "export_img_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "enc.py").write_text(EXECUTOR.format(helper="export_img_pkg.util", cls="Enc"))
    (pkg / "util.py").write_text("def suffix():\n    return '?'\n")
    (tmp_path / "flow.yml").write_text(
        "jtype: Flow\nexecutors:\n  - name: enc\n    uses: export_img_pkg.enc:Enc\n")
    spec = load_flow(tmp_path / "flow.yml")
    image = plan_images(spec)["enc"]
    assert image.uses == "export_img_pkg.enc:Enc"
    assert [(f.source, f.dest) for f in image.files] == [(pkg, "export_img_pkg")]
    assert image.requirements is None
    out = tmp_path_factory.mktemp("build")
    export_dockerfiles(spec, out)
    copied = sorted(p.relative_to(out / "enc" / "app").as_posix()
                    for p in (out / "enc" / "app").rglob("*") if p.is_file())
    assert copied == ["export_img_pkg/__init__.py", "export_img_pkg/enc.py",
                      "export_img_pkg/util.py"]  # no __pycache__
    assert "RUN pip install" not in (out / "enc" / "Dockerfile").read_text()
