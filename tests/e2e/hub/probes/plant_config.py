# Runs INSIDE a sandbox: plants the researcher-side configuration that, without the lockdown, would
# re-open the download side doors (a ~/.jupyter config adding /files/ back and a header we can see,
# and a labconfig re-enabling the Download menu).
import json
import os

home = os.path.expanduser("~")
os.makedirs(f"{home}/.jupyter/labconfig", exist_ok=True)
with open(f"{home}/.jupyter/jupyter_config.py", "w") as fh:
    fh.write(
        "c.ContentsManager.files_handler_class = 'jupyter_server.files.handlers.FilesHandler'\n"
        "c.ServerApp.authorizer_class = 'jupyter_server.auth.authorizer.AllowAllAuthorizer'\n"
        "c.ServerApp.tornado_settings = {'headers': {'X-Planted': 'yes'}}\n"
    )
with open(f"{home}/.jupyter/jupyter_server_config.py", "w") as fh:
    fh.write("c.ServerApp.tornado_settings = {'headers': {'X-Planted': 'yes'}}\n")
with open(f"{home}/.jupyter/labconfig/page_config.json", "w") as fh:
    json.dump({"disabledExtensions": {"@jupyterlab/docmanager-extension:download": False}}, fh)
os.makedirs(f"{home}/.ipython", exist_ok=True)
with open(f"{home}/big.csv", "w") as fh:
    fh.write("a,b\n" + "1,2\n" * 400_000)
with open(f"{home}/small.txt", "w") as fh:
    fh.write("hello\n")
with open(f"{home}/blob.bin", "wb") as fh:
    fh.write(bytes(range(256)) * 4)
if not os.path.islink(f"{home}/datalink"):
    os.symlink("/data", f"{home}/datalink")
print(json.dumps({"planted": True}))
