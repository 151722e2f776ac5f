#!/usr/bin/env python3
"""The docs are checked against the binary, so that no example goes stale (CTest label `docs`).

  check_docs.py commands ROOT SALM   every `salm SUBCOMMAND ...` shown in README.md and docs/*.md
                                     (code blocks and code spans) names a real subcommand and only
                                     its real options; every tools/ path shown exists; every option
                                     of every subcommand is described in its section of docs/cli.md
  check_docs.py example ROOT SALM    runs the README's worked example (the ```sh block after
                                     `<!-- worked-example -->`) verbatim in a scratch directory
docs/results/ is the dated record of past experiments and is not checked.
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

PROG = "check_docs"


def fail(msg):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(1)


def help_options(salm, sub, cache={}):
    """The long options `salm SUB --help` lists (None: no such subcommand)."""
    if sub not in cache:
        r = subprocess.run([salm, sub, "--help"], capture_output=True, text=True)
        cache[sub] = set(re.findall(r"^\s+(?:-\w \[ )?--([a-z0-9-]+)", r.stdout, re.M)) if r.returncode == 0 else None
    return cache[sub]


def doc_files(root):
    files = [os.path.join(root, "README.md")]
    for n in sorted(os.listdir(os.path.join(root, "docs"))):
        if n.endswith(".md"):
            files.append(os.path.join(root, "docs", n))
    return files


def code_lines(text):
    """Lines of fenced code blocks, and the contents of inline code spans."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            out.append(line)
        else:
            out.extend(re.findall(r"`([^`]+)`", line))
    return out


def salm_commands(line):
    """(subcommand, [options]) of each `salm SUB ...` in a line; SUB must look like a word."""
    for m in re.finditer(r"(?:^|[\s(/])salm\s+([a-z]+)((?:\s+[^|;&#]*)?)", line):
        sub, rest = m.group(1), m.group(2)
        yield sub, re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*)", rest)


def check_commands(root, salm):
    problems = []
    subcommands = {s for s in re.findall(r"^  ([a-z]+)\s", subprocess.run([salm, "--help"], capture_output=True,
                                                                             text=True).stdout, re.M)}
    common = {"help", "config", "log-level", "threads"}
    checked = 0
    for path in doc_files(root):
        rel = os.path.relpath(path, root)
        text = open(path).read()
        for line in code_lines(text):
            for sub, opts in salm_commands(line):
                if sub not in subcommands:
                    if sub in {"is", "for", "and", "the", "a", "as", "to", "on", "in", "runs", "has"}:
                        continue  # prose that says "salm is ..."
                    problems.append(f"{rel}: `{line.strip()}`: no subcommand '{sub}'")
                    continue
                known = help_options(salm, sub) | common
                for o in opts:
                    checked += 1
                    if o not in known:
                        problems.append(f"{rel}: `{line.strip()}`: salm {sub} has no --{o}")
            for tool in re.findall(r"(?<![\w/.])(tools/[A-Za-z0-9_./-]+[A-Za-z0-9_])", line):
                if not os.path.exists(os.path.join(root, tool)):
                    problems.append(f"{rel}: `{line.strip()}`: {tool} does not exist")
    # docs/cli.md describes every option of every subcommand in the subcommand's own section.
    # (options shared by several subcommands may be described once in the common section, which then
    # names those subcommands in backticks)
    cli = open(os.path.join(root, "docs", "cli.md")).read()
    sections = re.split(r"^## ", cli, flags=re.M)
    shared = "\n".join(s for s in sections if s.startswith("Options common"))
    for sub in sorted(subcommands):
        body = "\n".join(s for s in sections if re.match(rf"salm [a-z ]*\b{sub}\b", s))
        if f"`{sub}`" in shared:
            body += shared
        if not body:
            problems.append(f"docs/cli.md: no section '## salm {sub}'")
            continue
        for o in sorted(help_options(salm, sub) - common):
            if f"--{o}" not in body:
                problems.append(f"docs/cli.md: section of salm {sub} does not describe --{o}")
    for o in ["config", "log-level", "threads"]:
        if f"--{o}" not in cli:
            problems.append(f"docs/cli.md: the common option --{o} is not described")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        fail(f"{len(problems)} problem(s) in the docs")
    print(f"{PROG}: {checked} options of salm commands in {len(doc_files(root))} files match the binary; docs/cli.md "
          f"describes every option of {len(subcommands)} subcommands")


def check_example(root, salm):
    readme = open(os.path.join(root, "README.md")).read()
    m = re.search(r"<!-- worked-example -->\s*```sh\n(.*?)```", readme, re.S)
    if not m:
        fail("README.md: no ```sh block after <!-- worked-example -->")
    script = m.group(1)
    with tempfile.TemporaryDirectory() as work:
        os.symlink(os.path.join(root, "configs"), os.path.join(work, "configs"))
        os.symlink(os.path.dirname(os.path.abspath(salm)), os.path.join(work, "build"))
        env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                   OMPI_MCA_rmaps_base_oversubscribe="1")
        for n, cmd in enumerate(l for l in script.splitlines() if l.strip() and not l.lstrip().startswith("#")):
            print(f"$ {cmd}", flush=True)
            # each line in the same shell state: `export PATH=...` carries over through a file
            r = subprocess.run(["bash", "-c", f"set -euo pipefail; source ./.env 2>/dev/null || true; {cmd}; "
                                              "export -p > ./.env"], cwd=work, env=env)
            if r.returncode != 0:
                fail(f"README.md worked example, command {n + 1} failed (exit {r.returncode}): {cmd}")
        for f in ["data.h5", "noise.h5", "protect.json", "clean.json", "protected.json", "release.npz", "restored.h5"]:
            if not os.path.exists(os.path.join(work, f)):
                fail(f"README.md worked example: {f} was not written")
        r = subprocess.run(["h5diff", "data.h5", "restored.h5", "/train/images", "/train/images"], cwd=work)
        if r.returncode != 0:
            fail("README.md worked example: the restored train images differ from the clean ones")
        # The example is also CI's 2-rank effectiveness check (effectiveness.builtin runs 1 rank):
        # what the README tells the reader to look at must hold. Bounds as in that test.
        rep = {f: json.load(open(os.path.join(work, f))) for f in ["protect.json", "clean.json", "protected.json"]}
        clean, prot = rep["clean.json"]["clean_test_accuracy"], rep["protected.json"]["clean_test_accuracy"]
        print(f"{PROG}: worked example: 2 ranks, source fit {rep['protect.json']['final_train_accuracy']:.3f}; "
              f"victim clean {clean:.3f}, protected {prot:.3f}")
        if rep["protect.json"]["ranks"] != 2:
            fail("README.md worked example: protect.json does not say 2 ranks")
        if clean < 0.70:
            fail(f"README.md worked example: the clean victim reached only {clean:.3f}: the check says nothing")
        if prot > clean - 0.25:
            fail(f"README.md worked example: the protected victim {prot:.3f} is not 25 points below clean {clean:.3f}")
    print(f"{PROG}: the README's worked example ran, protected (2 ranks) and restored the clean images bit for bit")


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("commands", "example"):
        fail("usage: check_docs.py commands|example ROOT SALM")
    _, what, root, salm = sys.argv
    (check_commands if what == "commands" else check_example)(os.path.abspath(root), os.path.abspath(salm))


if __name__ == "__main__":
    main()
