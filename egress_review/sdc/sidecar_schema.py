"""The one JSON schema of the sidecar (``sidecar.schema.json`` beside this module), shared by the Python
wrappers and the R package (``r/sdc``). It is generated from ``egress_review.checks.sidecar.Sidecar``, the
model the server reads sidecars with, so the two cannot drift: ``python -m egress_review.sdc.sidecar_schema``
rewrites the file and a unit test fails when it is stale."""

from __future__ import annotations

import json
import sys
from pathlib import Path

SCHEMA_PATH = Path(__file__).with_name("sidecar.schema.json")
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def generated_schema() -> dict:
    from egress_review.checks.sidecar import Sidecar

    return {"$schema": DIALECT, **Sidecar.model_json_schema()}


def load_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def main() -> int:
    SCHEMA_PATH.write_text(json.dumps(generated_schema(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(SCHEMA_PATH)
    return 0


if __name__ == "__main__":
    sys.exit(main())
