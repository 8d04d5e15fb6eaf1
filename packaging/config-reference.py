#!/usr/bin/env python3
"""Regenerates the option table of docs/operations.md from `tmc-server --help`.

usage: packaging/config-reference.py [--check] BUILD_DIR/server/tmc-server

With --check nothing is written: the exit status says whether the table is up to date (a test
runs it that way, so the guide cannot drift from the binary).
"""
import re
import subprocess
import sys
from pathlib import Path

BEGIN, END = "<!-- options:begin -->", "<!-- options:end -->"


def options(help_text):
    """(flag, argument, default, description) per option, in --help order."""
    rows, current = [], None
    for line in help_text.splitlines():
        match = re.match(
            r"^  (?:-\w \[ )?--([\w-]+)(?: \])?(?: (arg))?(?: \(=(.*?)\))?(?:\s+(.*))?$", line)
        if match:
            current = [match[1], match[2] or "", match[3] or "", (match[4] or "").strip()]
            rows.append(current)
        elif current and line.startswith("    ") and line.strip():
            current[3] = (current[3] + " " + line.strip()).strip()
    return rows


def table(rows):
    out = ["| option | environment | default | meaning |", "|---|---|---|---|"]
    for name, arg, default, text in rows:
        env = "—" if name in ("help", "config") else "`TMC_" + name.upper().replace("-", "_") + "`"
        flag = f"`--{name}`" if not arg else f"`--{name} VALUE`"
        shown = f"`{default}`" if default else ("off" if not arg else "(none)")
        out.append(f"| {flag} | {env} | {shown} | {text.replace('|', '/')} |")
    return "\n".join(out)


def main():
    args = sys.argv[1:]
    check = args[:1] == ["--check"]
    if check:
        args = args[1:]
    help_text = subprocess.run([args[0], "--help"], check=True, capture_output=True,
                               text=True).stdout
    doc = Path(__file__).resolve().parent.parent / "docs" / "operations.md"
    text = doc.read_text()
    generated = f"{BEGIN}\n{table(options(help_text))}\n{END}"
    if BEGIN in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: generated, text,
                      flags=re.S)
    else:
        text = text.replace("OPTIONS_TABLE", generated)
    if check:
        if text != doc.read_text():
            sys.exit("docs/operations.md: the option table differs from tmc-server --help; "
                     "regenerate it with packaging/config-reference.py")
        return
    doc.write_text(text)


if __name__ == "__main__":
    main()
