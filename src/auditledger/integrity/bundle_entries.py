"""Reading an evidence bundle's zip strictly: one entry per name, plain relative names only.

A zip may hold two entries of the same name. Tools disagree on which one is "the" file:
Python's ``zipfile`` returns the last, ``unzip -n`` extracts the first. A bundle with a tampered
``events.csv`` first and the genuine one last would then verify while a reader's spreadsheet
shows the tampered rows. So a bundle whose entries are not exactly one per name, each a plain
file name without directories, is refused before any of its content is looked at; the verifier
then accepts only the names its signed manifest lists (see :func:`unlisted`).
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter

# Entries every bundle has besides the files its manifest lists and hashes.
STRUCTURAL = ("manifest.json", "manifest.sig")
# A plain file name: no directory part, no drive, no control characters, not "." or "..".
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be an entry of a bundle, or None if it can."""
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return f"entry {name!r} has an absolute path"
    parts = re.split(r"[/\\]", name)
    if ".." in parts:
        return f"entry {name!r} climbs out of the bundle with '..'"
    if len(parts) > 1:
        return f"entry {name!r} is in a directory (bundles hold plain files only)"
    if not _PLAIN.fullmatch(name):
        return f"entry {name!r} is not a plain file name"
    return None


def read_entries(archive: zipfile.ZipFile) -> tuple[dict[str, bytes], list[str]]:
    """Every entry's bytes by name, and the problems that make the zip unacceptable.

    When there are problems the bytes are not read: which copy of a duplicated name is meant
    cannot be decided, and the bundle is refused as a whole.
    """
    infos = archive.infolist()
    problems = [
        f"entry {name!r} appears {count} times: a zip reader may show either copy (tampered)"
        for name, count in sorted(Counter(info.filename for info in infos).items())
        if count > 1
    ]
    for info in infos:
        why = name_problem(info.filename)
        if why is not None:
            problems.append(why)
        elif info.is_dir():
            problems.append(f"entry {info.filename!r} is a directory")
    if problems:
        return {}, problems
    return {info.filename: archive.read(info) for info in infos}, []


def unlisted(
    names: set[str], listed: set[str], known_text: dict[str, bytes], files: dict[str, bytes]
) -> list[str]:
    """Problems for entries neither structural nor listed by the manifest.

    ``known_text`` are entries older bundles carried without listing them (the fixed README):
    accepted only when byte-for-byte the text auditledger wrote.
    """
    problems = []
    for name in sorted(names - listed - set(STRUCTURAL)):
        if name in known_text and files.get(name) == known_text[name]:
            continue
        problems.append(f"{name} is not listed by the signed manifest (added)")
    return problems
