#!/usr/bin/env python3
"""Static checks of a release directory (dist/), called by scripts/release-check.
Standard library plus binutils' readelf. Each check prints `ok:` or `FAIL:` lines.

  check.py static --dist DIR --version V --arches x86_64[,aarch64]
      wheel names and WHEEL tags (manylinux2014 / manylinux_2_17, cp310-abi3, nothing else),
      the sdist; every .so/.node inside wheels, npm tarballs and layer zips: ELF machine and no
      GLIBC_ symbol version above 2.17; sizes (goal: under 2 MB each).
  check.py versions --dist DIR --version V
      one version everywhere: root Cargo.toml (workspace version and the `lanepool` workspace
      dependency), bindings-node/package.json, CHANGELOG.md, wheel/sdist metadata, npm
      package.json files and optionalDependencies, the .crate, the layer names.
  check.py response --got FILE --expected FILE
      the handler's printed response equals the expected JSON.
Exit status 1 when any check failed.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_GLIBC = (2, 17)
SIZE_GOAL = 2 * 1024 * 1024
ELF_MACHINE = {"x86_64": "X86-64", "aarch64": "AArch64"}
NPM_ARCH = {"x86_64": "x64", "aarch64": "arm64"}
LAMBDA_ARCH = {"x86_64": "x86_64", "aarch64": "arm64"}

failed = 0
passed = 0


def ok(msg: str) -> None:
    global passed
    passed += 1
    print(f"ok: {msg}")


def fail(msg: str) -> None:
    global failed
    failed += 1
    print(f"FAIL: {msg}")


def check(cond: bool, msg: str) -> bool:
    (ok if cond else fail)(msg)
    return cond


def readelf(data: bytes, what: str) -> str:
    with tempfile.NamedTemporaryFile(suffix=".so") as f:
        f.write(data)
        f.flush()
        return subprocess.run(
            ["readelf", "--wide", what, f.name], check=True, capture_output=True, text=True
        ).stdout


def check_elf(label: str, data: bytes, arch: str) -> None:
    header = readelf(data, "-h")
    machine = re.search(r"Machine:\s+(.*)", header)
    machine = machine.group(1).strip() if machine else "?"
    check(ELF_MACHINE[arch] in machine, f"{label}: ELF machine {machine} ({arch})")
    versions = readelf(data, "-V")
    found = sorted(
        {tuple(int(x) for x in v.split(".")) for v in re.findall(r"GLIBC_([0-9]+(?:\.[0-9]+)+)", versions)}
    )
    if not found:
        fail(f"{label}: no GLIBC_ symbol versions found (readelf -V); not a glibc-linked object?")
        return
    newest = found[-1]
    too_new = [v for v in found if v[:2] > MAX_GLIBC]
    check(
        not too_new,
        f"{label}: newest GLIBC symbol version {'.'.join(map(str, newest))} (max 2.17)"
        + (f"; too new: {', '.join('.'.join(map(str, v)) for v in too_new)}" if too_new else ""),
    )
    size = len(data)
    check(size < SIZE_GOAL, f"{label}: {size} bytes (goal < 2 MB)")


def expected_wheel(version: str, arch: str) -> str:
    return f"lanepool-{version}-cp310-abi3-manylinux2014_{arch}.manylinux_2_17_{arch}.whl"


def cmd_static(args) -> None:
    dist = Path(args.dist)
    arches = args.arches.split(",")
    v = args.version
    # Wheels: exactly the expected ones, each with exactly the expected tags.
    wheels = sorted(p.name for p in (dist / "python").glob("*.whl"))
    want = sorted(expected_wheel(v, a) for a in arches)
    check(wheels == want, f"wheels in {dist}/python: {wheels} (want {want})")
    for name in wheels:
        arch = next((a for a in arches if name.endswith(f"_{a}.whl")), None)
        if arch is None:
            fail(f"{name}: unexpected wheel (tag not manylinux2014 {'/'.join(arches)})")
            continue
        with zipfile.ZipFile(dist / "python" / name) as z:
            wheel_meta = next(n for n in z.namelist() if n.endswith(".dist-info/WHEEL"))
            tags = sorted(
                line.split(":", 1)[1].strip()
                for line in z.read(wheel_meta).decode().splitlines()
                if line.startswith("Tag:")
            )
            allowed = sorted([f"cp310-abi3-manylinux2014_{arch}", f"cp310-abi3-manylinux_2_17_{arch}"])
            check(tags == allowed, f"{name}: WHEEL tags {tags}")
            root_purelib = "Root-Is-Purelib: false" in z.read(wheel_meta).decode()
            check(root_purelib, f"{name}: Root-Is-Purelib: false")
            sos = [n for n in z.namelist() if n.endswith(".so")]
            check(sos == ["lanepool/_lanepool.abi3.so"], f"{name}: extension modules {sos}")
            for so in sos:
                check_elf(f"{name}:{so}", z.read(so), arch)
        size = (dist / "python" / name).stat().st_size
        check(size < SIZE_GOAL, f"{name}: {size} bytes (goal < 2 MB)")
    sdists = sorted(p.name for p in (dist / "python").glob("*.tar.gz"))
    check(sdists == [f"lanepool-{v}.tar.gz"], f"sdist: {sdists}")

    # npm: main package has no .node; each platform package has one, for its arch.
    main = dist / "npm" / f"lanepool-{v}.tgz"
    if check(main.is_file(), f"npm main package {main.name}"):
        with tarfile.open(main) as t:
            names = t.getnames()
        check(not [n for n in names if n.endswith(".node")], f"{main.name}: no .node inside")
        check("package/binding.js" in names, f"{main.name}: has binding.js")
        check("package/lanepool.cjs" in names, f"{main.name}: has lanepool.cjs (the main)")
    for arch in arches:
        tgz = dist / "npm" / f"lanepool-linux-{NPM_ARCH[arch]}-gnu-{v}.tgz"
        if not check(tgz.is_file(), f"npm platform package {tgz.name}"):
            continue
        with tarfile.open(tgz) as t:
            nodes = [m for m in t.getmembers() if m.name.endswith(".node")]
            check(
                [m.name for m in nodes] == [f"package/lanepool.linux-{NPM_ARCH[arch]}-gnu.node"],
                f"{tgz.name}: .node files {[m.name for m in nodes]}",
            )
            for m in nodes:
                check_elf(f"{tgz.name}:{m.name}", t.extractfile(m).read(), arch)
            pkg = json.load(t.extractfile("package/package.json"))
            check(
                pkg.get("os") == ["linux"] and pkg.get("cpu") == [NPM_ARCH[arch]] and pkg.get("libc") == ["glibc"],
                f"{tgz.name}: os/cpu/libc {pkg.get('os')}/{pkg.get('cpu')}/{pkg.get('libc')}",
            )

    # Layers: layout and the binaries inside.
    for arch in arches:
        la = LAMBDA_ARCH[arch]
        pyz = dist / "layers" / f"lanepool-{v}-python-layer-{la}.zip"
        if check(pyz.is_file(), f"layer {pyz.name}"):
            with zipfile.ZipFile(pyz) as z:
                names = [n for n in z.namelist() if not n.endswith("/")]
                check(all(n.startswith("python/") for n in names), f"{pyz.name}: everything under python/")
                check("python/lanepool/__init__.py" in names, f"{pyz.name}: python/lanepool/__init__.py")
                for n in names:
                    if n.endswith(".so"):
                        check_elf(f"{pyz.name}:{n}", z.read(n), arch)
            check(pyz.stat().st_size < SIZE_GOAL, f"{pyz.name}: {pyz.stat().st_size} bytes (goal < 2 MB)")
        nz = dist / "layers" / f"lanepool-{v}-nodejs-layer-{la}.zip"
        if check(nz.is_file(), f"layer {nz.name}"):
            with zipfile.ZipFile(nz) as z:
                names = [n for n in z.namelist() if not n.endswith("/")]
                check(all(n.startswith("nodejs/node_modules/") for n in names),
                      f"{nz.name}: everything under nodejs/node_modules/")
                check("nodejs/node_modules/lanepool/lanepool.cjs" in names, f"{nz.name}: lanepool/lanepool.cjs")
                nodes = [n for n in names if n.endswith(".node")]
                check(
                    nodes == [f"nodejs/node_modules/@lanepool/linux-{NPM_ARCH[arch]}-gnu/lanepool.linux-{NPM_ARCH[arch]}-gnu.node"],
                    f"{nz.name}: .node files {nodes}",
                )
                for n in nodes:
                    check_elf(f"{nz.name}:{n}", z.read(n), arch)
            check(nz.stat().st_size < SIZE_GOAL, f"{nz.name}: {nz.stat().st_size} bytes (goal < 2 MB)")


def cmd_versions(args) -> None:
    dist = Path(args.dist)
    v = args.version
    cargo = (ROOT / "Cargo.toml").read_text()
    try:
        import tomllib

        data = tomllib.loads(cargo)
        ws_version = data["workspace"]["package"]["version"]
        dep_req = data["workspace"]["dependencies"]["lanepool"].get("version")
    except ModuleNotFoundError:  # Python 3.10
        ws_version = re.search(r'\[workspace\.package\][^\[]*?\nversion\s*=\s*"([^"]+)"', cargo).group(1)
        m = re.search(r'^lanepool\s*=\s*\{[^}]*version\s*=\s*"([^"]+)"', cargo, re.M)
        dep_req = m.group(1) if m else None
    check(ws_version == v, f"root Cargo.toml [workspace.package] version {ws_version} == crate {v}")
    check(dep_req in (None, v, f"={v}", f"^{v}"), f"root Cargo.toml workspace dependency lanepool version {dep_req!r}")
    node_pkg = json.loads((ROOT / "bindings-node" / "package.json").read_text())
    check(node_pkg["version"] == v, f"bindings-node/package.json version {node_pkg['version']}")
    for dep in ("@lanepool/linux-x64-gnu", "@lanepool/linux-arm64-gnu"):
        got = node_pkg.get("optionalDependencies", {}).get(dep)
        if got is not None:
            check(got == v, f"bindings-node/package.json optionalDependencies {dep} {got}")
    pyproject = (ROOT / "bindings-python" / "pyproject.toml").read_text()
    check(re.search(r'^dynamic\s*=\s*\[[^\]]*"version"', pyproject, re.M) is not None
          and re.search(r"^version\s*=", pyproject, re.M) is None,
          "bindings-python/pyproject.toml takes its version from the crate (dynamic)")
    changelog = (ROOT / "CHANGELOG.md").read_text()
    check(f"## [{v}]" in changelog, f"CHANGELOG.md has a section ## [{v}]")

    for whl in sorted((dist / "python").glob("*.whl")):
        check(whl.name.startswith(f"lanepool-{v}-"), f"{whl.name}: file name version")
        with zipfile.ZipFile(whl) as z:
            meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
        got = re.search(r"^Version: (.+)$", meta, re.M).group(1).strip()
        check(got == v, f"{whl.name}: METADATA Version {got}")
    for sd in sorted((dist / "python").glob("*.tar.gz")):
        with tarfile.open(sd) as t:
            info = next(m for m in t.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO"))
            meta = t.extractfile(info).read().decode()
        got = re.search(r"^Version: (.+)$", meta, re.M).group(1).strip()
        check(got == v, f"{sd.name}: PKG-INFO Version {got}")
    for tgz in sorted((dist / "npm").glob("*.tgz")):
        with tarfile.open(tgz) as t:
            pkg = json.load(t.extractfile("package/package.json"))
        check(pkg["version"] == v, f"{tgz.name}: {pkg['name']} version {pkg['version']}")
        for dep, req in pkg.get("optionalDependencies", {}).items():
            check(req == v, f"{tgz.name}: optionalDependencies {dep} {req}")
    crates = sorted(p.name for p in (dist / "crate").glob("*.crate"))
    if crates:
        check(crates == [f"lanepool-{v}.crate"], f"crate: {crates}")
    for z in sorted((dist / "layers").glob("*.zip")):
        check(z.name.startswith(f"lanepool-{v}-"), f"{z.name}: file name version")


def cmd_response(args) -> None:
    got_text = Path(args.got).read_text()
    expected = json.loads(Path(args.expected).read_text())
    try:
        got = json.loads(got_text)
    except json.JSONDecodeError as e:
        fail(f"{args.label}: output is not JSON ({e}): {got_text[:200]!r}")
        return
    n = len(expected.get("batchItemFailures", []))
    if got == expected:
        ok(f"{args.label}: response equals {Path(args.expected).name} ({n} batchItemFailures)")
    else:
        fail(f"{args.label}: response differs from {Path(args.expected).name}: got {json.dumps(got)[:300]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("static")
    p.add_argument("--dist", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--arches", required=True)
    p = sub.add_parser("versions")
    p.add_argument("--dist", required=True)
    p.add_argument("--version", required=True)
    p = sub.add_parser("response")
    p.add_argument("--got", required=True)
    p.add_argument("--expected", required=True)
    p.add_argument("--label", required=True)
    args = ap.parse_args()
    {"static": cmd_static, "versions": cmd_versions, "response": cmd_response}[args.cmd](args)
    print(f"check.py {args.cmd}: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
