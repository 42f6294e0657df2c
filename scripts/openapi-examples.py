#!/usr/bin/env python3
"""Refresh the OpenAPI document's response examples from real answers.

    VALISE_OPENAPI_EXAMPLES=/tmp/examples.jsonl go test -count=1 ./api ./custody
    python3 scripts/openapi-examples.py /tmp/examples.jsonl

Every answer of the API tests is validated against the document
(api/apitest.Conform); with VALISE_OPENAPI_EXAMPLES set it also writes each
2xx JSON answer to that file. This script puts the first one of each
operation and status under its `schema:` line as `example:`, shortening
lists to two items, and lists the operations that still have none.
"""
import json
import re
import sys

DOC = "api/openapi.yaml"


def shorten(v):
    if isinstance(v, list):
        return [shorten(x) for x in v[:2]]
    if isinstance(v, dict):
        return {k: shorten(x) for k, x in v.items()}
    return v


def main(examples_file):
    first = {}
    for line in open(examples_file):
        d = json.loads(line)
        key = (d["method"], d["path"], str(d["status"]))
        first.setdefault(key, d["body"])
    lines = open(DOC).read().split("\n")
    out, path, method, status, missing = [], None, None, None, []
    in_paths = False
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("paths:"):
            in_paths = True
        elif re.match(r"^\S", ln):
            in_paths = False
        m = re.match(r"^  (/\S+):\s*$", ln)
        if in_paths and m:
            path = m.group(1)
        m = re.match(r"^    (get|post|put|patch|delete):\s*$", ln)
        if in_paths and m:
            method = m.group(1).upper()
        m = re.match(r'^        "(\d\d\d)":', ln)
        if in_paths and m:
            status = m.group(1)
        out.append(ln)
        m = re.match(r"^(\s+)schema:( .*)?$", ln)
        if in_paths and m and status and status.startswith("2") and "application/json:" in lines[i - 1]:
            if not m.group(2):  # a block schema: copy it whole first
                indent = len(m.group(1))
                while i + 1 < len(lines) and len(lines[i + 1]) - len(lines[i + 1].lstrip()) > indent:
                    i += 1
                    out.append(lines[i])
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if nxt.strip().startswith("example:"):
                i += 1  # replace the old example
            body = first.get((method, path, status))
            if body is not None:
                out.append(m.group(1) + "example: " + json.dumps(shorten(body), ensure_ascii=False))
            else:
                missing.append(f"{method} {path} {status}")
                if nxt.strip().startswith("example:"):
                    out.append(nxt)
        i += 1
    open(DOC, "w").write("\n".join(out))
    for m in missing:
        print("no example:", m)


if __name__ == "__main__":
    main(sys.argv[1])
