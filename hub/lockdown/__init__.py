"""Server-side lockdown of the notebook server inside the sandbox: closes the browser's download side
doors (raw files, nbconvert exports, file views, data file content) and counts kernel output.

These modules are installed root-owned into the notebook image and loaded from the root-owned
``JUPYTER_CONFIG_DIR`` the spawner sets, so nothing in the researcher's writable home can undo them.
They import ``jupyter_server``, which exists only inside the notebook image.
"""
