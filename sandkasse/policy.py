"""Load a reviewed policy file from ``policies/`` and validate it with the caller's pydantic model."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel

from sandkasse.settings import get_settings

M = TypeVar("M", bound=BaseModel)


class PolicyError(ValueError):
    """A policy file is missing or does not validate."""


def policy_path(name: str) -> Path:
    return get_settings().policies_dir / f"{name}.yaml"


def load_policy(model: type[M], name: str | None = None, path: Path | None = None) -> M:
    """Read ``policies/<name>.yaml`` (or ``path``) into ``model``; errors name the file."""
    target = path or policy_path(name or "")
    try:
        raw = yaml.safe_load(target.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise PolicyError(f"policy file {target} not found") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy file {target} is not valid YAML: {exc}") from exc
    try:
        return model.model_validate(raw)
    except Exception as exc:  # pydantic.ValidationError, reworded with the file name
        raise PolicyError(f"policy file {target} is invalid: {exc}") from exc
