"""A notebook opened in ``/shared`` starts its Python kernel there, a folder every member of the project
writes: what another member planted there must not run in your kernel, as you (the R kernel's start-up
files: test_r_sdc_agreement.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

# The python3 kernel as the notebook server starts it (its kernelspec, cwd /shared), asked what it imported.
_PROBE = r"""
from jupyter_client.manager import start_new_kernel
out = []
try:
    km, kc = start_new_kernel(kernel_name="python3", cwd="/shared", startup_timeout=60)
except RuntimeError as exc:
    print("KERNEL-FAILED", exc)
else:
    kc.execute_interactive("import pandas, myhelper; print('PANDAS', pandas.__file__, 'HELPER', myhelper.X)", timeout=60,
                           output_hook=lambda m: out.append(m["content"].get("text", "")))
    kc.stop_channels()
    km.shutdown_kernel(now=True)
print("".join(out))
"""


def test_a_module_planted_in_shared_neither_starts_the_kernel_nor_stands_in_for_an_installed_one(
        notebook_image, docker_client, tmp_path):
    """Control removed: on the image before the fix the planted ipykernel_launcher.py runs instead of the
    kernel (its marker appears, the kernel never answers)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (shared / "ipykernel_launcher.py").write_text("open('/shared/LAUNCHER-RAN', 'w').close()\n")
    (shared / "pandas.py").write_text("open('/shared/PANDAS-RAN', 'w').close()\n")
    (shared / "myhelper.py").write_text("X = 42\n")  # a module next to the notebook still imports
    out = docker_client.containers.run(
        notebook_image, ["python", "-c", _PROBE], user="1000:1000", network_mode="none", remove=True,
        volumes={str(shared): {"bind": "/shared", "mode": "rw"}}, working_dir="/shared").decode()
    assert not (shared / "LAUNCHER-RAN").exists() and not (shared / "PANDAS-RAN").exists(), out
    assert "PANDAS /opt/venv/lib/" in out and "HELPER 42" in out, out
