"""How fast `bpf lsp` answers in a 10,000-line workspace, next to a cold `bpf check` of it.

::

    python bench/lsp.py [--lines 10000] [--edits 15] [--completions 30] [--json]

The workspace is ``gen_bpf.py``'s program (``--lines``, ``--seed``) cut into files the way a
project is: ``roles.bpf``, and per family of entities ``model.bpf`` (entities), ``processes.bpf``
and ``rules.bpf`` (each importing the model). It is checked clean as one program first.

Then, each the median of its runs (``time.perf_counter``):

- (a) **cold check**: ``bpf_dsl.check_paths([folder])`` in this process, no cache: read, parse, check
  and compile every file, what ``bpf check FOLDER --no-cache`` does after its start-up (whose own
  figure, a whole process, is printed for information); run before each edit of (b), so that a
  busy machine slows both alike;
- (b) **diagnostics after an edit**: a real ``bpf lsp`` process over stdio (pygls' client) with the
  workspace open; one character of an open ``processes.bpf`` changes (a letter of a stage's label,
  back and forth, ``--edits`` times), timed from the ``didChange`` sent to the
  ``publishDiagnostics`` of that version received. The server's debounce is set to 0 here
  (``BPF_LSP_DEBOUNCE``); an editor's 0.15 s adds to it by design, waiting for the next keystroke;
- (c) **completion**: ``textDocument/completion`` after ``step `` in a stage of that file,
  ``--completions`` times, request to answer.

Goals, printed as PASS or MISS (it exits 0 either way: a measurement, not a test):

| ratio | goal | why |
|---|---|---|
| (b) / (a) | <= 0.5 | only what changed is parsed and checked again |
| (c) / (a) | <= 0.05 | completion reads the text around the cursor and the last analysis |
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_bpf import generate

EDIT_GOAL = 0.5
COMPLETION_GOAL = 0.05
_DECLARATION = re.compile(r"^(role|entity|extend entity|process|rule)\s+([A-Za-z_][A-Za-z0-9_]*)")


def workspace(folder: Path, lines: int, seed: int) -> list[Path]:
    """Write the generated program into ``folder`` as a project of several files; return the files."""
    text = generate(lines, seed)
    chunks: list[tuple[str, str, list[str]]] = []  # (kind, name, lines)
    for line in text.splitlines():
        m = _DECLARATION.match(line)
        if m:
            chunks.append((m.group(1), m.group(2), [line]))
        elif chunks:
            chunks[-1][2].append(line)
    files: dict[Path, list[str]] = {}
    for kind, name, body in chunks:
        family = re.match(r"(f\d+)_", name)
        if kind == "role" or family is None:
            path = folder / "roles.bpf"
        else:
            where = {"entity": "model", "extend entity": "model", "process": "processes", "rule": "rules"}[kind]
            path = folder / family.group(1) / f"{where}.bpf"
        files.setdefault(path, []).extend(body)
    for path, body in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        header = ""
        if path.name == "processes.bpf":
            header = 'import "model.bpf"\nimport "../roles.bpf"\n\n'
        elif path.name == "rules.bpf":
            header = 'import "model.bpf"\n\n'
        path.write_text(header + "\n".join(body) + "\n", encoding="utf-8")
    return sorted(files)


def cold_check_once(folder: Path) -> float:
    """One cold check of ``folder`` in this process, in seconds (and it must be clean)."""
    from bpf_dsl.check import check_paths

    t = time.perf_counter()
    report = check_paths([str(folder)])
    took = time.perf_counter() - t
    assert report.ok, report.render()[:2000]
    return took


def cold_check(folder: Path, runs: int) -> tuple[float, float]:
    """(in this process, as a whole `bpf check --no-cache` process): medians in seconds."""
    inside = [cold_check_once(folder) for _ in range(runs)]
    whole: list[float] = []
    for _ in range(max(1, runs // 2)):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bpf_dsl.cli", "check", "--no-cache", str(folder)], check=True,
                       capture_output=True)
        whole.append(time.perf_counter() - t)
    return statistics.median(inside), statistics.median(whole)


async def server_times(folder: Path, target: Path, edits: int, completions: int) -> dict[str, Any]:
    """Start `bpf lsp`, open ``target``, and time one-character edits and completions."""
    from lsprotocol import types as lsp
    from pygls.lsp.client import BaseLanguageClient

    client = BaseLanguageClient("bench", "1")
    uri = target.as_uri()
    versions: dict[int, float] = {}
    arrived: dict[int, float] = {}
    news = asyncio.Event()

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: lsp.PublishDiagnosticsParams) -> None:
        if params.uri == uri and params.version is not None:
            arrived.setdefault(params.version, time.perf_counter())
            news.set()

    async def published(version: int) -> None:
        while version not in arrived:
            news.clear()
            await news.wait()

    env = {**os.environ, "BPF_LSP_DEBOUNCE": "0"}
    await client.start_io(sys.executable, "-m", "bpf_dsl.cli", "lsp", env=env)
    t = time.perf_counter()
    await client.initialize_async(lsp.InitializeParams(
        capabilities=lsp.ClientCapabilities(), root_uri=folder.as_uri(),
        workspace_folders=[lsp.WorkspaceFolder(folder.as_uri(), "bench")]))
    client.initialized(lsp.InitializedParams())
    text = target.read_text(encoding="utf-8")
    waiting = asyncio.ensure_future(published(1))
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "bpf", 1, text)))
    await asyncio.wait_for(waiting, 600)
    first = arrived[1] - t
    at = text.index('"Stage 1"') + 1  # the `S` of a stage's label: one character, the file stays valid
    line = text.count("\n", 0, at)
    column = at - (text.rfind("\n", 0, at) + 1)
    edit_times: list[float] = []
    cold_times: list[float] = []
    for i in range(edits):
        # Interleaved: a cold check (the server idle meanwhile), then an edit, so a busy machine slows both alike.
        cold_times.append(cold_check_once(folder))
        version = i + 2
        letter = "s" if i % 2 == 0 else "S"
        waiting = asyncio.ensure_future(published(version))
        versions[version] = time.perf_counter()
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(version=version, uri=uri),
            [lsp.TextDocumentContentChangePartial(range=lsp.Range(lsp.Position(line, column),
                                                                  lsp.Position(line, column + 1)), text=letter)]))
        await asyncio.wait_for(waiting, 600)
        edit_times.append(arrived[version] - versions[version])
    step_at = text.index("        step ") + len("        step ")
    position = lsp.Position(text.count("\n", 0, step_at), step_at - (text.rfind("\n", 0, step_at) + 1))
    completion_times: list[float] = []
    items = 0
    for _ in range(completions):
        t = time.perf_counter()
        result = await client.text_document_completion_async(lsp.CompletionParams(
            lsp.TextDocumentIdentifier(uri), position))
        completion_times.append(time.perf_counter() - t)
        items = len(result.items) if isinstance(result, lsp.CompletionList) else len(result or [])
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return {"cold": statistics.median(cold_times), "first_diagnostics": first, "edit": statistics.median(edit_times),
            "edit_max": max(edit_times), "completion": statistics.median(completion_times),
            "completion_items": items}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3, help="`bpf check` processes to take the median of")
    ap.add_argument("--edits", type=int, default=15)
    ap.add_argument("--completions", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bpf-lsp-bench-") as tmp:
        folder = Path(tmp) / "project"
        files = workspace(folder, args.lines, args.seed)
        total = sum(len(f.read_text(encoding="utf-8").splitlines()) for f in files)
        target = sorted(f for f in files if f.name == "processes.bpf")[len([f for f in files
                                                                            if f.name == "processes.bpf"]) // 2]
        _, cold_cli = cold_check(folder, args.runs)
        times = asyncio.run(server_times(folder, target, args.edits, args.completions))
    cold = times.pop("cold")
    edit_ratio = times["edit"] / cold
    completion_ratio = times["completion"] / cold
    result = {
        "files": len(files), "lines": total, "cold_check_s": cold, "cold_check_cli_s": cold_cli,
        **{f"{k}_s" if k != "completion_items" else k: v for k, v in times.items()},
        "edit_ratio": edit_ratio, "completion_ratio": completion_ratio,
        "edit_goal": EDIT_GOAL, "completion_goal": COMPLETION_GOAL,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"workspace: {len(files)} files, {total} lines (bench/gen_bpf.py --lines {args.lines} --seed {args.seed})")
    print(f"(a) cold check, in process:        {cold * 1000:8.1f} ms   (`bpf check --no-cache`, a whole process: "
          f"{cold_cli * 1000:.1f} ms)")
    print(f"    first diagnostics after open:  {times['first_diagnostics'] * 1000:8.1f} ms   (start-up and the whole "
          "workspace)")
    print(f"(b) diagnostics after an edit:     {times['edit'] * 1000:8.1f} ms   (median; max "
          f"{times['edit_max'] * 1000:.1f} ms; debounce 0)")
    print(f"(c) completion:                    {times['completion'] * 1000:8.1f} ms   (median, "
          f"{times['completion_items']} items)")
    print(f"(b)/(a) = {edit_ratio:.3f}   goal <= {EDIT_GOAL}   {'PASS' if edit_ratio <= EDIT_GOAL else 'MISS'}")
    print(f"(c)/(a) = {completion_ratio:.4f}  goal <= {COMPLETION_GOAL}  "
          f"{'PASS' if completion_ratio <= COMPLETION_GOAL else 'MISS'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
