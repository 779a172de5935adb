#!/usr/bin/env python3
"""`cargo deny check licenses bans` for the subset of deny.toml Kanect uses, offline.

Reads the dependency graph from `cargo metadata` (no network once the crates are fetched, which
the build before it does) and checks, as cargo-deny would:

- licenses: every package's SPDX `license` expression is satisfied by `[licenses] allow`
  (OR needs one side, AND both; `WITH` exceptions must be allowed as written; the old `/`
  separator means OR); a package with no `license` (only a `license-file`) fails;
- bans: no package matches a `[bans] deny` entry (`crate = "name"`, `"name@version"` or
  `"name:<requirement>"`), unless every package that depends on it directly is one of the
  entry's `wrappers`; `multiple-versions = "warn"` lists crates present in several versions
  (`"deny"` fails on them).

Usage: `python3 .ci/deny.py [deny.toml]` from the workspace root. Exits 1 on a failed check,
2 on a configuration it does not understand (so a setting is never silently ignored).
"""

import json
import re
import subprocess
import sys
import tomllib

KNOWN = {
    "graph": {"targets", "all-features"},
    "licenses": {"version", "allow"},
    "bans": {"multiple-versions", "deny"},
}


def load_config(path):
    with open(path, "rb") as file:
        config = tomllib.load(file)
    for section, keys in config.items():
        if section not in KNOWN:
            raise SystemExit(f"deny.py: section [{section}] is not supported")
        unknown = set(keys) - KNOWN[section]
        if unknown:
            raise SystemExit(f"deny.py: [{section}] {sorted(unknown)} not supported")
    return config


def metadata(graph):
    command = ["cargo", "metadata", "--format-version", "1", "--locked"]
    if graph.get("all-features"):
        command.append("--all-features")
    for target in graph.get("targets", []):
        command += ["--filter-platform", target]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"deny.py: {' '.join(command)} failed:\n{run.stderr}")
    return json.loads(run.stdout)


# --- SPDX expressions -------------------------------------------------------------------------


def tokens(expression):
    return re.findall(r"\(|\)|[^\s()]+", expression.replace("/", " OR "))


def satisfied(expression, allowed):
    """Whether the allowed licenses satisfy `expression` (precedence: WITH, AND, OR)."""
    items = tokens(expression)
    position = 0

    def peek():
        return items[position] if position < len(items) else None

    def take():
        nonlocal position
        position += 1
        return items[position - 1]

    def primary():
        if peek() == "(":
            take()
            value = any_of()
            if take() != ")":
                raise ValueError(f"unbalanced parentheses in {expression!r}")
            return value
        license = take()
        if peek() == "WITH":
            take()
            license = f"{license} WITH {take()}"
        return license.rstrip("+") in allowed or license in allowed

    def chain(operator, operand, combine):
        # Every operand is parsed, even once the value is known, so that the tokens are consumed.
        value = operand()
        while peek() == operator:
            take()
            value = combine(operand(), value)
        return value

    def all_of():
        return chain("AND", primary, lambda right, left: right and left)

    def any_of():
        return chain("OR", all_of, lambda right, left: right or left)

    result = any_of()
    if peek() is not None:
        raise ValueError(f"unexpected {peek()!r} in {expression!r}")
    return result


def check_licenses(packages, config):
    allowed = set(config.get("allow", []))
    failures = []
    for package in packages:
        license = package.get("license")
        if not license:
            failures.append(f"{package['name']} {package['version']}: no SPDX license (only a license file)")
        elif not satisfied(license, allowed):
            failures.append(f"{package['name']} {package['version']}: {license!r} is not satisfied by the allow list")
    return failures


# --- bans -------------------------------------------------------------------------------------


def version_tuple(text):
    return tuple(int(part) for part in re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", text).groups(default="0"))


def matches(spec, package):
    """`name`, `name@version` (exact) or `name:<op><version>` (one comparison)."""
    if "@" in spec:
        name, version = spec.split("@", 1)
        return package["name"] == name and package["version"] == version
    if ":" in spec:
        name, requirement = spec.split(":", 1)
        op, version = re.fullmatch(r"(<=|>=|<|>|=)\s*(\S+)", requirement).groups()
        have, bound = version_tuple(package["version"]), version_tuple(version)
        compare = {"<": have < bound, "<=": have <= bound, ">": have > bound, ">=": have >= bound, "=": have == bound}
        return package["name"] == name and compare[op]
    return package["name"] == spec


def check_bans(packages, parents, config):
    failures, warnings = [], []
    for entry in config.get("deny", []):
        entry = {"crate": entry} if isinstance(entry, str) else entry
        for package in packages:
            if not matches(entry["crate"], package):
                continue
            wrappers = entry.get("wrappers")
            users = sorted(parents.get(package["id"], set()))
            if wrappers is not None and users and all(user in wrappers for user in users):
                continue
            reason = f" ({entry['reason']})" if "reason" in entry else ""
            failures.append(f"{package['name']} {package['version']} is banned{reason}; used by {', '.join(users)}")
    versions = {}
    for package in packages:
        versions.setdefault(package["name"], set()).add(package["version"])
    duplicates = [f"{name}: {', '.join(sorted(found))}" for name, found in sorted(versions.items()) if len(found) > 1]
    level = config.get("multiple-versions", "warn")
    if level == "deny":
        failures += [f"several versions of {line}" for line in duplicates]
    elif level == "warn":
        warnings += [f"several versions of {line}" for line in duplicates]
    return failures, warnings


def main():
    config = load_config(sys.argv[1] if len(sys.argv) > 1 else "deny.toml")
    meta = metadata(config.get("graph", {}))
    by_id = {package["id"]: package for package in meta["packages"]}
    in_graph = [by_id[node["id"]] for node in meta["resolve"]["nodes"]]
    parents = {}
    for node in meta["resolve"]["nodes"]:
        for dependency in node["deps"]:
            parents.setdefault(dependency["pkg"], set()).add(by_id[node["id"]]["name"])
    licenses = check_licenses(in_graph, config.get("licenses", {}))
    bans, warnings = check_bans(in_graph, parents, config.get("bans", {}))
    for line in warnings:
        print(f"warning: {line}")
    for line in licenses + bans:
        print(f"error: {line}")
    print(f"licenses {'FAILED' if licenses else 'ok'}, bans {'FAILED' if bans else 'ok'} ({len(in_graph)} packages)")
    return 1 if licenses or bans else 0


if __name__ == "__main__":
    sys.exit(main())
