"""The program a re-execution container runs (``python3 -I -c RUNNER``), as the sandbox user.

It takes the notebook (code only) from its environment (chunks of ``SANDKASSE_NB_<n>``: no copy into
the container, no host path), runs it with nbclient in ``/tmp/work``, and prints one last line,
``MARKER`` + JSON: whether it ran to the end and the files ``request_export`` wrote (in that
container, :data:`egress_review.client.REEXECUTION_OUT_ENV` makes it write instead of sending). Every
byte of that line is as trustworthy as the notebook itself, so the worker parses it as hostile input
(:mod:`egress_review.notebooks.container`). Standard library, nbformat and nbclient only (the image's).
"""

MARKER = "SANDKASSE-REEXECUTION-RESULT "

RUNNER = r"""
import base64, json, os, stat, sys
MARKER = "SANDKASSE-REEXECUTION-RESULT "
parts = sorted((int(k[len("SANDKASSE_NB_"):]), v) for k, v in os.environ.items() if k.startswith("SANDKASSE_NB_"))
source = base64.b64decode("".join(v for _, v in parts)).decode("utf-8")
for k in [k for k in os.environ if k.startswith("SANDKASSE_NB_")]:
    del os.environ[k]  # the kernel need not carry its own source twice
out = os.environ["SANDKASSE_REEXECUTION_OUT"]
work = "/tmp/work"
for d in (out, work, os.environ["HOME"]):
    os.makedirs(d, mode=0o700, exist_ok=True)
result = {"ran": False, "error": "", "files": {}, "skipped": {}}
try:
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.reads(source, as_version=4)
    NotebookClient(nb, timeout=int(os.environ.get("SANDKASSE_CELL_TIMEOUT", "300")), kernel_name="python3",
                   resources={"metadata": {"path": work}}, allow_errors=False).execute()
    result["ran"] = True
except BaseException as exc:
    result["error"] = ("%s: %s" % (type(exc).__name__, exc))[-4000:]
limit = int(os.environ.get("SANDKASSE_MAX_OUTPUT_BYTES", "0"))
total = 0
d = os.open(out, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
for name in sorted(os.listdir(d))[:200]:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=d)
    except OSError as exc:
        result["skipped"][name] = "not a plain file (%s)" % exc.strerror
        continue
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            result["skipped"][name] = "not a plain file"
            continue
        data = fh.read(limit + 1 - total)
    total += len(data)
    if total > limit:
        result["skipped"][name] = "over the size limit"
        break
    result["files"][name] = base64.b64encode(data).decode()
sys.stdout.flush()
sys.stdout.write("\n" + MARKER + json.dumps(result) + "\n")
sys.stdout.flush()
"""
