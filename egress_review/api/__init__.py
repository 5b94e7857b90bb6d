"""The JSON API (``/api/v1``): one router per resource, pydantic models as the contract."""
