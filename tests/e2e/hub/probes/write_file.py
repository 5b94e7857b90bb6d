"""Write a file into the researcher's home as the sandbox user (what a kernel could do):
``text`` of ``size`` bytes, or a ``notebook-metadata`` notebook whose metadata holds ``size`` bytes
(an extract hidden outside the outputs, which the in-container output cap does not see)."""

import base64
import json
import os

args = json.loads(os.environ["PROBE_ARGS"])
path = os.path.join(os.path.expanduser("~"), args["name"])
if args["kind"] == "text":
    text = ("0123456789abcdef" * (args["size"] // 16 + 1))[: args["size"]]
    with open(path, "w") as fh:
        fh.write(text)
else:
    blob = base64.b64encode(os.urandom(args["size"] * 3 // 4)).decode()
    nb = {"cells": [], "metadata": {"extract": blob}, "nbformat": 4, "nbformat_minor": 5}
    with open(path, "w") as fh:
        json.dump(nb, fh)
print(json.dumps({"written": os.path.getsize(path)}))
