#!/usr/bin/env python3
"""Release helpers called by scripts/release (Python 3.10+, standard library only).

  stage.py version
      prints the one version number: the `lanepool` crate's, i.e. `[workspace.package] version`
      of the root Cargo.toml (read through `cargo metadata`).
  stage.py npm --version V --out DIR [--addon x64=FILE] [--addon arm64=FILE]
      stages the main npm package `lanepool` (the files `npm pack` takes from bindings-node, less
      any development .node, with the version and optionalDependencies stamped) and one
      per-platform package per addon, and packs each with `npm pack` into DIR.
  stage.py layers --version V --out DIR [--wheel x86_64=WHL] [--npm x86_64=MAIN.tgz,PLAT.tgz] ...
      writes Lambda layer zips: python/<wheel contents> and nodejs/node_modules/<packages>.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "bindings-node"
LICENSES = ["LICENSE-MIT", "LICENSE-APACHE"]

# npm arch -> (package name, .node file name, Lambda architecture name)
PLATFORMS = {
    "x64": ("@lanepool/linux-x64-gnu", "lanepool.linux-x64-gnu.node", "x86_64"),
    "arm64": ("@lanepool/linux-arm64-gnu", "lanepool.linux-arm64-gnu.node", "arm64"),
}
LAMBDA_TO_NPM = {"x86_64": "x64", "arm64": "arm64", "aarch64": "arm64"}


def die(msg: str) -> None:
    print(f"release: {msg}", file=sys.stderr)
    sys.exit(1)


def crate_version() -> str:
    out = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    for pkg in json.loads(out)["packages"]:
        if pkg["name"] == "lanepool":
            return pkg["version"]
    die("no package `lanepool` in cargo metadata")
    raise AssertionError


def npm_pack(src: Path, out: Path) -> Path:
    res = subprocess.run(
        ["npm", "pack", "--json", "--pack-destination", str(out)],
        cwd=src, check=True, capture_output=True, text=True,
    )
    info = json.loads(res.stdout)[0]
    return out / info["filename"]


def npm_files(src: Path) -> list[str]:
    res = subprocess.run(
        ["npm", "pack", "--dry-run", "--json"], cwd=src, check=True, capture_output=True, text=True
    )
    return [f["path"] for f in json.loads(res.stdout)[0]["files"]]


def stage_main(version: str, arches: list[str], stage: Path) -> Path:
    dest = stage / "lanepool"
    dest.mkdir(parents=True)
    # The entry point, lanepool.cjs, is made from the sources now (bundle.js; needs
    # bindings-node's devDependencies), so a release never ships a stale bundle. It holds
    # package.json's version, which must be the one stamped below.
    source_version = json.loads((NODE_DIR / "package.json").read_text())["version"]
    if source_version != version:
        die(f"bindings-node/package.json is version {source_version}, the release {version}: make them one")
    if not (NODE_DIR / "node_modules" / "esbuild").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True)
    subprocess.run(["node", "bundle.js"], cwd=NODE_DIR, check=True)
    files = [f for f in npm_files(NODE_DIR) if not f.endswith(".node") and f != "package.json"]
    if "lanepool.cjs" not in files:
        die("bindings-node/package.json `files` does not ship lanepool.cjs, the package's main")
    if "binding.js" not in files:
        files.append("binding.js")
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(NODE_DIR / rel, target)
    for lic in LICENSES:
        shutil.copy2(ROOT / lic, dest / lic)

    pkg = json.loads((NODE_DIR / "package.json").read_text())
    pkg["version"] = version
    # Every prebuilt platform, whichever were built in this run: npm installs the matching one.
    pkg["optionalDependencies"] = {PLATFORMS[a][0]: version for a in PLATFORMS}
    pkg["files"] = sorted(set(pkg.get("files", [])) | {"binding.js", *LICENSES})
    pkg.pop("devDependencies", None)
    pkg.pop("scripts", None)  # build/test need the source checkout, not shipped
    (dest / "package.json").write_text(json.dumps(pkg, indent=2) + "\n")
    return dest


def stage_platform(version: str, arch: str, addon: Path, stage: Path) -> Path:
    name, node_file, lambda_arch = PLATFORMS[arch]
    main = json.loads((NODE_DIR / "package.json").read_text())
    dest = stage / name.split("/")[1]
    dest.mkdir(parents=True)
    shutil.copy2(addon, dest / node_file)
    os.chmod(dest / node_file, 0o755)
    for lic in LICENSES:
        shutil.copy2(ROOT / lic, dest / lic)
    template = (ROOT / "release" / "npm" / "platform-README.md").read_text()
    (dest / "README.md").write_text(
        template.replace("{name}", name).replace("{arch}", arch).replace("{lambda_arch}", lambda_arch)
    )
    pkg = {
        "name": name,
        "version": version,
        "description": f"lanepool's prebuilt native addon for Linux {arch} (glibc 2.17+); "
                       "installed by the `lanepool` package",
        "license": main.get("license", "MIT OR Apache-2.0"),
        "repository": main.get("repository"),
        "main": node_file,
        "files": [node_file, "README.md", *LICENSES],
        "os": ["linux"],
        "cpu": [arch],
        "libc": ["glibc"],
        "engines": main.get("engines", {"node": ">=20"}),
    }
    (dest / "package.json").write_text(json.dumps(pkg, indent=2) + "\n")
    return dest


def cmd_npm(args) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    addons = dict(a.split("=", 1) for a in args.addon)
    for arch in addons:
        if arch not in PLATFORMS:
            die(f"unknown npm arch {arch} (want one of {', '.join(PLATFORMS)})")
    with tempfile.TemporaryDirectory(prefix="lanepool-npm-") as tmp:
        stage = Path(tmp)
        packed = [npm_pack(stage_main(args.version, list(addons), stage), out)]
        for arch, addon in addons.items():
            packed.append(npm_pack(stage_platform(args.version, arch, Path(addon), stage), out))
    for p in packed:
        print(p)


def zip_tree(entries: list[tuple[str, bytes, int]], dest: Path) -> None:
    """A reproducible zip: sorted names, fixed times, unix modes kept."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        dirs: set[str] = set()
        for name, _, _ in entries:
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]) + "/")
        for d in sorted(dirs):
            info = zipfile.ZipInfo(d, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o40755 << 16) | 0x10
            z.writestr(info, b"")
        for name, data, mode in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)


def wheel_entries(wheel: Path) -> list[tuple[str, bytes, int]]:
    entries = []
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            if info.is_dir():
                continue
            mode = (info.external_attr >> 16) & 0o777 or 0o644
            if info.filename.endswith(".so"):
                mode = 0o755
            entries.append((f"python/{info.filename}", z.read(info), mode))
    return entries


def tgz_entries(tgz: Path) -> list[tuple[str, bytes, int]]:
    entries = []
    with tarfile.open(tgz) as t:
        name = None
        members = [m for m in t.getmembers() if m.isfile()]
        for m in members:
            if m.name == "package/package.json":
                name = json.load(t.extractfile(m))["name"]
        if name is None:
            die(f"{tgz}: no package/package.json")
        for m in members:
            rel = m.name.split("/", 1)[1]
            data = t.extractfile(m).read()
            mode = 0o755 if rel.endswith(".node") else 0o644
            entries.append((f"nodejs/node_modules/{name}/{rel}", data, mode))
    return entries


def cmd_layers(args) -> None:
    out = Path(args.out)
    made = []
    for spec in args.wheel:
        arch, wheel = spec.split("=", 1)
        dest = out / f"lanepool-{args.version}-python-layer-{arch}.zip"
        zip_tree(wheel_entries(Path(wheel)), dest)
        made.append(dest)
    for spec in args.npm:
        arch, tgzs = spec.split("=", 1)
        entries = []
        for tgz in tgzs.split(","):
            entries += tgz_entries(Path(tgz))
        dest = out / f"lanepool-{args.version}-nodejs-layer-{arch}.zip"
        zip_tree(entries, dest)
        made.append(dest)
    for p in made:
        print(p)


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("version")
    p = sub.add_parser("npm")
    p.add_argument("--version", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--addon", action="append", default=[])
    p = sub.add_parser("layers")
    p.add_argument("--version", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--wheel", action="append", default=[])
    p.add_argument("--npm", action="append", default=[])
    args = ap.parse_args()
    if args.cmd == "version":
        print(crate_version())
    elif args.cmd == "npm":
        cmd_npm(args)
    else:
        cmd_layers(args)


if __name__ == "__main__":
    main()
