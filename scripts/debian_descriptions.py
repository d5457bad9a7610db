"""Weak supervision from Debian: each package's short description as a query, its long description as the
positive passage (technical English from a package registry, not from any evaluation collection).

Reads the archive's `Translation-en` (descriptions) and `Packages` (sections) files, keeps one package per
distinct long description (library, -dev, -doc, -dbg, -data, -common and transitional packages are dropped:
their texts repeat their main package's), and writes `{"query", "positive"}` JSONL for `crossrank train --data`.
With `--science`, only packages of the science-like sections (science, math, electronics, hamradio, gnu-r)
are written: the closest the archive comes to scientific and engineering prose.

    python scripts/debian_descriptions.py Translation-en Packages OUT.jsonl [--science]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

SCIENCE = {"science", "math", "electronics", "hamradio", "gnu-r"}
_SKIP = re.compile(r"^lib|-(dev|doc|dbg|dbgsym|data|common|examples|tests?)$|-l10n|-locale")
_SUFFIX = re.compile(r"\s*[\(\[][^)\]]*[\)\]]\s*$")  # "(data files)", "[transitional]"


def stanzas(path: Path) -> list[dict[str, str]]:
    """Parse a Debian control-style file into dicts; continuation lines are joined to their field."""
    out: list[dict[str, str]] = []
    for block in path.read_text(encoding="utf-8", errors="replace").split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line.startswith((" ", "\t")) and key:
                fields[key] += "\n" + line[1:]
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields:
            out.append(fields)
    return out


def body_text(long: str) -> str:
    """Debian long description -> plain text: ' .' lines are paragraph breaks, list bullets kept as text."""
    lines = [line.strip() for line in long.splitlines()]
    return " ".join(line for line in lines if line not in (".", "")).strip()


def main(
    translation: Path, packages: Path, out: Path, *, science: bool, min_query_words: int = 3, min_body_words: int = 40
) -> int:
    sections = {p["Package"]: p.get("Section", "").split("/")[-1] for p in stanzas(packages) if "Package" in p}
    seen_bodies: set[str] = set()
    seen_queries: set[str] = set()
    rows: list[dict[str, str]] = []
    for stanza in stanzas(translation):
        name, description = stanza.get("Package", ""), stanza.get("Description-en", "")
        if _SKIP.search(name) or "\n" not in description:
            continue
        short, _, long = description.partition("\n")
        query = _SUFFIX.sub("", short).strip()
        body = body_text(long)
        if any(word in short.lower() for word in ("transitional", "dummy", "metapackage", "meta-package")):
            continue
        if len(query.split()) < min_query_words or len(body.split()) < min_body_words:
            continue
        key = " ".join(body.lower().split()[:40])
        if key in seen_bodies or query.lower() in seen_queries:
            continue
        seen_bodies.add(key)
        seen_queries.add(query.lower())
        if science and sections.get(name, "") not in SCIENCE:
            continue
        rows.append({"query": query, "positive": body})
    with out.open("w", encoding="utf-8") as sink:
        for row in rows:
            sink.write(json.dumps(row) + "\n")
    print(f"{len(rows)} description pairs written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("translation", type=Path, help="the archive's i18n/Translation-en file")
    parser.add_argument("packages", type=Path, help="the archive's binary-<arch>/Packages file")
    parser.add_argument("out", type=Path, help="JSONL file to write")
    parser.add_argument("--science", action="store_true", help="only science-like sections")
    args = parser.parse_args()
    for given in (args.translation, args.packages):
        if not given.is_file():
            parser.error(f"{given} is not a file")
    sys.exit(main(args.translation, args.packages, args.out, science=args.science))
