"""Picks a small seed corpus from a libFuzzer merge control file (see run.sh --merge).

Keeps every named seed of corpus/TARGET (hand-made inputs and regression-* crashes), then adds,
greedily, the input with the most edges not yet covered, up to MAX files in all: libFuzzer's
own merge keeps every input that adds a feature, thousands for the JSON targets. The control
file lists, for each input, only the edges that no input run before it reached (inputs run
smallest first), so this is a heuristic: run.sh measures what the chosen files cover.
usage: python3 pick.py CONTROL_FILE SEED_DIR MAX
"""
import hashlib, os, re, shutil, sys

control, seed_dir, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(control).read().splitlines()
count = int(lines[0])
files = lines[2:2 + count]
edges = {}
for line in lines[2 + count:]:
    if line.startswith("COV "):
        _, index, *cov = line.split()
        edges[int(index)] = set(cov)
hashed = re.compile(r"^[0-9a-f]{40}$")
keep = [i for i, f in enumerate(files) if os.path.dirname(f) == seed_dir.rstrip("/") and not hashed.match(os.path.basename(f))]
covered = set().union(*(edges.get(i, set()) for i in keep)) if keep else set()
rest = [i for i in range(count) if i not in keep]
while len(keep) < limit:
    best = max(rest, key=lambda i: (len(edges.get(i, set()) - covered), -os.path.getsize(files[i])), default=None)
    if best is None or not edges.get(best, set()) - covered:
        break
    keep.append(best)
    covered |= edges[best]
    rest.remove(best)
chosen = {}
for i in keep:
    name = os.path.basename(files[i])
    if hashed.match(name) or os.path.dirname(files[i]) != seed_dir.rstrip("/"):
        name = hashlib.sha1(open(files[i], "rb").read()).hexdigest()
    chosen[name] = open(files[i], "rb").read()
shutil.rmtree(seed_dir)
os.makedirs(seed_dir)
for name, data in chosen.items():
    open(os.path.join(seed_dir, name), "wb").write(data)
print(f"{seed_dir}: kept {len(chosen)} of {count} inputs")
