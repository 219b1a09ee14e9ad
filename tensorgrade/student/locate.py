"""Finding the released assignment a student's notebook belongs to: beside the notebook, in a
folder or zip named after the assignment, a path or URL the instructor set, or (Colab) a release zip
uploaded to the session or put on a mounted Drive, which is unpacked.

A release folder holds `assignment.yaml` and `expectations.json` (written by `tensorgrade release`);
its zip holds that folder (`<id>/assignment.yaml`, ...).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

SPEC_FILE = "assignment.yaml"  # = tensorgrade.course.release.packaging's names (not imported: keep this light)
EXPECTATIONS_FILE = "expectations.json"
COLAB_ROOT = Path("/content")
# Where Colab users put files: the session's folder (Files panel upload) and a mounted Drive.
COLAB_SEARCH_ROOTS = (COLAB_ROOT, COLAB_ROOT / "drive" / "MyDrive")
SEARCH_DEPTH = 3  # folders below a search root; a Drive can be large
MAX_ZIP_MEMBERS = 2000
MAX_ZIP_BYTES = 512 * 1024 * 1024  # unpacked; a release holds a notebook, a spec, checks and data files


class NotFound(Exception):
    """No release found; the message says what to download and where to put it."""


@dataclass
class Found:
    folder: Path
    how: str  # one line for the student: where it was found, what was unpacked
    unpacked: bool = False  # from a zip (or a download): the notebook's relative paths are the folder's


def in_colab() -> bool:
    return importlib.util.find_spec("google.colab") is not None or COLAB_ROOT.is_dir()


def is_release(folder: Path) -> bool:
    return (folder / SPEC_FILE).is_file() and (folder / EXPECTATIONS_FILE).is_file()


def _release_id(folder: Path) -> str | None:
    """The `id:` of a release's assignment.yaml, read without YAML (cheap, for choosing among many)."""
    try:
        found = re.search(r"^id:\s*['\"]?([A-Za-z0-9_.-]+)", (folder / SPEC_FILE).read_text(errors="replace"), re.M)
    except OSError:
        return None
    return found[1] if found else None


def _matches(folder: Path, assignment: str | None) -> bool:
    return is_release(folder) and (assignment is None or _release_id(folder) == assignment)


def notebook_folders(namespace: dict | None) -> list[Path]:
    """The notebook's own folder where the front end says it: VS Code puts the notebook's path in
    the namespace, Jupyter Server in JPY_SESSION_NAME; the kernel's working folder is the notebook's
    in Jupyter, JupyterLab and VS Code by default."""
    folders = []
    path = (namespace or {}).get("__vsc_ipynb_file__") or os.environ.get("JPY_SESSION_NAME")
    if isinstance(path, str) and path.endswith(".ipynb"):
        folders.append(Path(path).expanduser().resolve().parent)
    folders.append(Path.cwd().resolve())
    return list(dict.fromkeys(folders))


def _walk(root: Path, depth: int):
    """Folders under root, breadth first, to `depth` levels, hidden ones skipped."""
    level = [root]
    for _ in range(depth + 1):
        following = []
        for folder in level:
            yield folder
            try:
                following += sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
            except OSError:
                continue
        level = following


def _zips(root: Path, assignment: str | None, depth: int) -> list[Path]:
    """Release zips under root: `<id>.zip`, also as a browser or Colab renames a second download
    (`<id> (1).zip`, `<id>-1.zip`); without an id, any zip (checked when opened)."""
    pattern = re.compile(rf"^{re.escape(assignment)}([ _-]*\(?\d+\)?)?\.zip$" if assignment else r".*\.zip$",
                         re.IGNORECASE)
    found = []
    for folder in _walk(root, depth):
        try:
            found += [p for p in folder.iterdir() if p.is_file() and pattern.match(p.name)]
        except OSError:
            continue
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)  # the newest download first


def _zip_release(archive: zipfile.ZipFile, assignment: str | None) -> str | None:
    """The top folder of a release inside the zip (`<id>/assignment.yaml` and `<id>/expectations.json`)."""
    names = set(archive.namelist())
    tops = {name.split("/")[0] for name in names if name.count("/") == 1 and name.endswith("/" + SPEC_FILE)}
    for top in sorted(tops):
        if f"{top}/{EXPECTATIONS_FILE}" in names and (assignment is None or top == assignment):
            return top
    return None


def unpack_release(zip_path: Path, into: Path, assignment: str | None = None) -> Path:
    """Unpack a release zip's folder into `into/<id>` (replacing an older unpacked copy); refuses
    members that would land outside it, and archives too large to be a release."""
    with zipfile.ZipFile(zip_path) as archive:
        top = _zip_release(archive, assignment)
        if top is None:
            raise NotFound(f"{zip_path} is not a release of {assignment or 'an assignment'} (it should hold "
                           f"{assignment or '<id>'}/{SPEC_FILE} and {assignment or '<id>'}/{EXPECTATIONS_FILE})")
        members = [m for m in archive.infolist() if m.filename.startswith(top + "/")]
        if len(members) > MAX_ZIP_MEMBERS or sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            raise NotFound(f"{zip_path} is too large to be a release")
        staging = Path(tempfile.mkdtemp(prefix=f".{top}-", dir=into))
        try:
            for member in members:
                relative = Path(member.filename)
                if relative.is_absolute() or ".." in relative.parts or member.is_dir():
                    continue
                target = staging / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink)
            destination = into / top
            if destination.exists():
                shutil.rmtree(destination)
            (staging / top).rename(destination)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return destination


def _download(url: str, into: Path, assignment: str | None) -> Path:
    name = f"{assignment or 'release'}.zip"
    target = into / name
    partial = into / f".{name}.part"
    with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as sink:
        shutil.copyfileobj(response, sink)
    os.replace(partial, target)
    return target


def find_release(where: str | os.PathLike | None = None, *, assignment: str | None = None,
                 url: str | None = None, namespace: dict | None = None,
                 search_roots: list[Path] | None = None, colab: bool | None = None) -> Found:
    """The release folder to check against; NotFound with what to do otherwise.

    In order: `where` (a release folder, a folder holding `<id>/`, or a release zip); the notebook's
    folder and its parents, and `<id>/` or `<id>.zip` beside it; in Colab (or with `search_roots`)
    the newest release zip (or unpacked folder) under the search roots, unpacked next to the zip's
    folder's working copy; then `url`, downloaded once beside the notebook and unpacked."""
    looked = []
    if where is not None:
        path = Path(where).expanduser()
        if path.is_file() and path.suffix == ".zip":
            folder = unpack_release(path.resolve(), path.resolve().parent, assignment)
            return Found(folder, f"unpacked {path} into {folder}", unpacked=True)
        for candidate in (path, path / (assignment or "")):
            if _matches(candidate, assignment):
                return Found(candidate.resolve(), f"release at {candidate.resolve()}")
        raise NotFound(f"{path} is not a release of {assignment or 'an assignment'}: a release folder holds "
                       f"{SPEC_FILE} and {EXPECTATIONS_FILE}, a release zip holds that folder")
    for start in notebook_folders(namespace):
        for folder in [start, *start.parents]:
            if _matches(folder, assignment):
                return Found(folder, f"release at {folder}")
        if assignment:
            if _matches(start / assignment, assignment):
                return Found(start / assignment, f"release at {start / assignment}")
            zipped = start / f"{assignment}.zip"
            if zipped.is_file():
                folder = unpack_release(zipped, start, assignment)
                return Found(folder, f"unpacked {zipped} into {folder}", unpacked=True)
        looked.append(str(start))
    colab = in_colab() if colab is None else colab
    roots = list(search_roots) if search_roots is not None else (list(COLAB_SEARCH_ROOTS) if colab else [])
    for root in roots:
        if not root.is_dir():
            continue
        looked.append(f"{root} (and {SEARCH_DEPTH} folders deep)")
        for folder in _walk(root, SEARCH_DEPTH):
            if _matches(folder, assignment):
                return Found(folder, f"release at {folder}")
        for zipped in _zips(root, assignment, SEARCH_DEPTH):
            try:
                with zipfile.ZipFile(zipped) as archive:
                    if _zip_release(archive, assignment) is None:
                        continue
            except (OSError, zipfile.BadZipFile):
                continue
            # Unpacked into the first root (Colab's session folder), not onto the Drive.
            folder = unpack_release(zipped, roots[0] if roots[0].is_dir() else zipped.parent, assignment)
            return Found(folder, f"unpacked {zipped} into {folder}", unpacked=True)
    if url:
        into = notebook_folders(namespace)[0]
        try:
            zipped = _download(url, into, assignment)
        except Exception as exc:  # offline, a wrong address, a server error: said, never a traceback
            looked.append(f"{url} (download failed: {type(exc).__name__}: {exc})")
        else:
            folder = unpack_release(zipped, into, assignment)
            return Found(folder, f"downloaded {url} and unpacked it into {folder}", unpacked=True)
    raise NotFound(not_found_message(assignment, looked, colab, url))


def not_found_message(assignment: str | None, looked: list[str], colab: bool, url: str | None) -> str:
    name = assignment or "<assignment>"
    lines = [f"The release of {name} was not found, so its checks cannot run here yet."]
    if colab:
        lines.append(f"In Colab: download {name}.zip from your course page and upload it with the Files panel "
                     f"(it lands in /content), or put it in your Google Drive (MyDrive) and mount the Drive; "
                     f"then run this cell again.")
    lines.append(f"On your computer: download {name}.zip from your course page, unzip it, and open "
                 f"{name}.ipynb from inside the unzipped {name} folder (it holds {SPEC_FILE} and "
                 f"{EXPECTATIONS_FILE}); or pass the folder: tg.init(\"path/to/{name}\").")
    if url:
        lines.append(f"The release can also be downloaded from {url}.")
    if looked:
        lines.append("Looked in: " + "; ".join(looked))
    return "\n".join(lines)
