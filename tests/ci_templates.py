#!/usr/bin/env python3
"""ci_templates.py MATRIXRUN SRCDIR: the CI templates of matrices/ci/ parse, and every
matrixrun command line in them is a valid command line for the demo matrix.

Each template is read as its CI system reads it (YAML for GitLab and GitHub Actions;
the sh steps of the Jenkinsfile), every shell line that calls matrixrun is taken apart
with shlex, the CI's variables are given sample values (shard 2 of 4), the matrix is
replaced by matrices/demo.xml, and the line runs as `matrixrun validate ...` with all its
options (validate parses every option the run would, and checks --shard and --only
against the matrix). Exit 0 when all of them pass."""
import os
import re
import shlex
import subprocess
import sys

import yaml

mr, src = sys.argv[1], sys.argv[2]
demo = os.path.join(src, "matrices", "demo.xml")
ci = os.path.join(src, "matrices", "ci")
VARS = {"MATRIX": demo, "CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "4", "SHARD": "2"}
failures = 0


def check(ok, what):
    global failures
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures += 1


def yaml_scripts(node):
    """Every shell text of a GitLab or GitHub Actions file: script lists and run keys."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("script", "before_script", "after_script"):
                yield from (v if isinstance(v, list) else [v])
            elif k == "run" and isinstance(v, str):
                yield v
            else:
                yield from yaml_scripts(v)
    elif isinstance(node, list):
        for v in node:
            yield from yaml_scripts(v)


def jenkins_scripts(text):
    """The bodies of the Jenkinsfile's sh steps, ''' or ' quoted."""
    yield from re.findall(r"\bsh\s+'''(.*?)'''", text, re.S)
    yield from re.findall(r"\bsh\s+'([^'\n]*)'", text)


def command_lines(scripts):
    for s in scripts:
        for line in s.splitlines():
            line = line.strip()
            if line.startswith("#") or "matrixrun" not in line:
                continue
            line = line.replace("${{ matrix.shard }}", "$SHARD")
            yield line


def validate(name, line):
    lex = shlex.shlex(line, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    tokens = list(lex)
    start = tokens.index("matrixrun")
    args = []
    for t in tokens[start + 1:]:
        if t in ("||", "&&", ";", "|", "&"):
            break
        args.append(re.sub(r"\$\{?(\w+)\}?", lambda m: VARS.get(m.group(1), m.group(0)), t))
    unknown = [a for a in args if "$" in a]
    if unknown:
        check(False, f"{name}: unknown variables in {line!r}: {unknown}")
        return
    if args and args[0] == "run":
        args = args[1:]
    if not args or args[0] not in ("validate", "list"):
        args = ["validate"] + args
    r = subprocess.run([mr] + args, capture_output=True, text=True)
    check(r.returncode == 0, f"{name}: {line!r} -> matrixrun {' '.join(args)}: exit {r.returncode} "
          f"{(r.stdout + r.stderr).strip()[:300]}")


templates = {
    "gitlab-ci.yml": lambda t: yaml_scripts(yaml.safe_load(t)),
    "github-actions.yml": lambda t: yaml_scripts(yaml.safe_load(t)),
    "Jenkinsfile": jenkins_scripts,
}
for name, scripts_of in templates.items():
    path = os.path.join(ci, name)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        lines = list(command_lines(scripts_of(text)))
    except yaml.YAMLError as e:
        check(False, f"{name}: not valid YAML: {e}")
        continue
    check(len(lines) >= 2, f"{name}: {len(lines)} matrixrun command line(s) found")
    check(any("--shard" in l for l in lines), f"{name}: a run is sharded")
    check("junit" in text.lower(), f"{name}: publishes the JUnit report")
    check("serial.log" in text and "artifacts" in text, f"{name}: keeps serial logs and archives")
    if name == "Jenkinsfile":
        check(text.count("{") == text.count("}"), f"{name}: braces balance")
    for line in lines:
        validate(name, line)
print(f"ci-templates: {failures} failed")
sys.exit(1 if failures else 0)
