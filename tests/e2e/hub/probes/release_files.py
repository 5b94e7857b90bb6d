"""Write the files the "Request release" browser test sends, as the sandbox user: a table and notes
in the home, and a link planted in the home that points at the project's extract under /data."""

import json
import os

args = json.loads(os.environ["PROBE_ARGS"])
home = os.path.expanduser("~")
for name, text in args.get("files", {}).items():
    with open(os.path.join(home, name), "w") as fh:
        fh.write(text)
for name, target in args.get("links", {}).items():
    path = os.path.join(home, name)
    if not os.path.lexists(path):
        os.symlink(target, path)
print(json.dumps({"home": sorted(os.listdir(home))}))
