# Root-owned server configuration of the Sandkasse notebook image (JUPYTER_CONFIG_DIR points here).
# Values come from policies/security.yaml through the environment the hub sets at spawn; the
# defaults below are the strict fallbacks for a server started without them.
import os

c = get_config()  # noqa: F821  (provided by traitlets when this file is loaded)


def _int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


c.ServerApp.authorizer_class = "hub.lockdown.authorizer.LockdownAuthorizer"
c.ServerApp.contents_manager_class = "hub.lockdown.contents.LockdownContentsManager"
c.ServerApp.kernel_websocket_connection_class = "hub.lockdown.output_volume.CountingWebsocketConnection"
# No /files/ route at all: raw download of any file.
c.ContentsManager.files_handler_class = None
c.ContentsManager.allow_hidden = False
c.LockdownContentsManager.data_mounts = [p for p in os.environ.get("SANDKASSE_DATA_MOUNTS", "/data").split(":") if p]
c.LockdownContentsManager.max_file_content_bytes = _int("SANDKASSE_MAX_FILE_CONTENT_BYTES", 1_000_000)
c.LockdownContentsManager.max_notebook_output_bytes = _int("SANDKASSE_MAX_NOTEBOOK_OUTPUT_BYTES", 5_000_000)

c.ZMQChannelsWebsocketConnection.limit_rate = True
c.ZMQChannelsWebsocketConnection.iopub_data_rate_limit = float(_int("SANDKASSE_IOPUB_DATA_RATE_LIMIT", 1_000_000))
c.ZMQChannelsWebsocketConnection.iopub_msg_rate_limit = float(_int("SANDKASSE_IOPUB_MSG_RATE_LIMIT", 200))
c.ZMQChannelsWebsocketConnection.rate_limit_window = float(os.environ.get("SANDKASSE_RATE_LIMIT_WINDOW", "3"))

c.ServerApp.terminals_enabled = os.environ.get("SANDKASSE_TERMINALS", "0") == "1"
