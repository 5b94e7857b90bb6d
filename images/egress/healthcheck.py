#!/opt/venv/bin/python
"""Container health check: GET the URL given as argument; healthy on 2xx (no curl in the image)."""
import sys
import urllib.request

try:
    with urllib.request.urlopen(sys.argv[1], timeout=4) as resp:
        sys.exit(0 if 200 <= resp.status < 300 else 1)
except Exception as exc:  # connection refused, 5xx, timeout: unhealthy
    print(exc, file=sys.stderr)
    sys.exit(1)
