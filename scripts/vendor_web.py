"""Vendor the planning room's browser assets from the npm registry into the package.

    python scripts/vendor_web.py            # the pinned versions below
    python scripts/vendor_web.py --check    # fail when the vendored files differ from the packs

Each package is fetched with ``npm pack`` into a temporary folder, unpacked, and the files the
page loads are copied with the package's licence into src/align/service/web/static/vendor/<name>/.
Nothing is loaded from a CDN: the wheel carries these files.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "src/align/service/web/static/vendor"

# package@version -> (folder, files inside the pack to copy; each lands under its base name)
PACKAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "leaflet@1.9.4": ("leaflet", ("dist/leaflet.js", "dist/leaflet.css", "LICENSE")),
    "htmx.org@2.0.11": ("htmx", ("dist/htmx.min.js", "LICENSE")),
    "topojson-client@3.1.0": ("topojson-client", ("dist/topojson-client.min.js", "LICENSE")),
    # US state outlines in WGS84 (Census cartographic boundaries, 1:10m), as TopoJSON
    "us-atlas@3.0.1": ("us-atlas", ("states-10m.json", "LICENSE")),
}


def unpack(spec: str, work: Path) -> Path:
    """``npm pack`` one package into ``work``; the folder of its unpacked files."""
    out = subprocess.run(
        ["npm", "pack", spec, "--silent", "--pack-destination", str(work)],
        check=True,
        capture_output=True,
        text=True,
    )
    tgz = work / out.stdout.strip().splitlines()[-1]
    target = work / tgz.stem
    with tarfile.open(tgz) as tar:
        tar.extractall(target, filter="data")
    return target / "package"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of copying")
    args = parser.parse_args()
    differ: list[str] = []
    with tempfile.TemporaryDirectory(prefix="align-vendor-") as tmp:
        for spec, (folder, files) in PACKAGES.items():
            pack = unpack(spec, Path(tmp))
            dest = VENDOR / folder
            dest.mkdir(parents=True, exist_ok=True)
            for name in files:
                src, dst = pack / name, dest / Path(name).name
                if args.check:
                    if not dst.is_file() or not filecmp.cmp(src, dst, shallow=False):
                        differ.append(str(dst.relative_to(ROOT)))
                else:
                    shutil.copyfile(src, dst)
            if not args.check:
                (dest / "VERSION").write_text(spec + "\n")
    for path in differ:
        print(f"differs from the npm pack: {path}", file=sys.stderr)
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
