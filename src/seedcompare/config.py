"""Load and validate the workflow configuration.

The JSON schema in ``workflow/schemas/config.schema.yaml`` (shipped inside the package as
``schemas/config.schema.yaml``) defines every key, its type and its default. This module fills
the defaults, turns schema errors into messages that name the key and the allowed values, and
adds the checks a schema cannot express (``seeds`` versus ``seeds_file``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

JSALT_ALWAYS_ABSENT_ROW_INDEX = -1
PRONE_DEFAULTS = {"dim": 128, "order": 10, "mu": 0.2, "theta": 0.5, "random_seed": 0}
# Method names become score columns, so they must not collide with the other columns.
RESERVED_METHOD_NAMES = {"seed", "corpus_id", "is_seed", "table_row", "paper_id", "title", "year",
                         "citation_count", "both", "group"}


class ConfigError(ValueError):
    """Invalid workflow configuration; the message names the key and what is allowed."""


@dataclass(frozen=True)
class MethodSpec:
    """One similarity method: where its vectors are and how the tables label it."""

    name: str
    label: str
    format: str
    path: str
    absent_row_indexes: tuple[int, ...]
    edges: str = ""
    prone: dict | None = None


def load_schema() -> dict:
    """Return the configuration JSON schema as a dict."""
    text = resources.files("seedcompare").joinpath("schemas/config.schema.yaml").read_text()
    return yaml.safe_load(text)


def _extend_with_defaults(validator_class):
    """Return a validator class that also fills in ``default`` values of absent properties.

    This is the recipe from the jsonschema FAQ; defaults are deep-copied so that a default
    dict or list is never shared between two configs.
    """
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_DefaultFillingValidator = _extend_with_defaults(jsonschema.Draft202012Validator)


def _describe_error(error: jsonschema.ValidationError) -> str:
    key = ".".join(str(part) for part in error.absolute_path) or "(top level)"
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "enum":
        allowed = ", ".join(repr(value) for value in error.validator_value)
        return f"config key '{key}': {error.instance!r} is not allowed; allowed values: {allowed}"
    if error.validator == "additionalProperties":
        return f"config key '{key}': {error.message}; allowed keys: " + ", ".join(
            sorted(schema.get("properties", {}))
        )
    if error.validator == "oneOf" and error.context:
        reasons = "; or ".join(sorted({sub.message for sub in error.context}))
        return f"config key '{key}': {error.instance!r} is invalid: {reasons}"
    return f"config key '{key}': {error.message}"


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Validate ``config`` against the schema and return a copy with every default filled in.

    Raises
    ------
    ConfigError
        With one line per problem, each naming the key and the allowed values.
    """
    config = copy.deepcopy(dict(config))
    validator = _DefaultFillingValidator(load_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(map(_describe_error, errors)))

    has_seeds, has_file = "seeds" in config, "seeds_file" in config
    if config["backend"] == "local" and isinstance(config.get("seeds"), list):
        not_integers = [s for s in config["seeds"] if not isinstance(s, int)]
        if not_integers:
            raise ConfigError(f"config key 'seeds': the local backend takes integer corpus ids, "
                              f"found {not_integers[:5]}")
    if "legacy_tables" in config:
        if has_seeds or has_file:
            raise ConfigError("config key 'legacy_tables': the tables give the seeds, so leave out "
                              "'seeds' and 'seeds_file'")
    elif has_seeds == has_file:
        raise ConfigError(
            "config keys 'seeds' and 'seeds_file': give exactly one of them "
            "(a list of corpus ids, the string 'all', or a TSV file with a 'seed' column)"
        )
    if config["backend"] == "s2":
        from .s2 import S2Settings  # imported here: the local backend does not need requests-cache

        S2Settings.from_config(config["s2"])
        fetched = [name for name, method in config["methods"].items() if method["format"] == "s2"]
        if len(fetched) > 1:
            raise ConfigError(f"config key 'methods': only one method can use format 's2' (the "
                              f"embedding named by s2.embedding), found {', '.join(fetched)}")
    for name, method in config["methods"].items():
        method.setdefault("label", name.capitalize())
        if name in RESERVED_METHOD_NAMES:
            raise ConfigError(f"config key 'methods.{name}': the name {name!r} is reserved for an "
                              f"output column; choose another name")
        if method["format"] == "s2" and config["backend"] != "s2":
            raise ConfigError(f"config key 'methods.{name}.format': 's2' needs backend: s2")
        if method["format"] == "prone":
            method["prone"] = {**PRONE_DEFAULTS, **method.get("prone", {})}
            if "edges" not in method:
                raise ConfigError(f"config key 'methods.{name}.edges': required for format 'prone' "
                                  "(an edge list file, or 's2' for the fetched citations)")
            if method["edges"] == "s2" and config["backend"] != "s2":
                raise ConfigError(f"config key 'methods.{name}.edges': 's2' needs backend: s2")
        elif "edges" in method or "prone" in method:
            key = "edges" if "edges" in method else "prone"
            raise ConfigError(f"config key 'methods.{name}.{key}': only allowed with format 'prone'")
        if method["format"] not in ("s2", "prone") and "path" not in method:
            raise ConfigError(f"config key 'methods.{name}.path': required for format "
                              f"{method['format']!r}")
        if method["format"] != "jsalt" and method.get("absent_row_indexes", [-1]) != [-1]:
            raise ConfigError(
                f"config key 'methods.{name}.absent_row_indexes': only allowed with format 'jsalt'"
            )
        indexes = set(method.get("absent_row_indexes", []))
        method["absent_row_indexes"] = sorted(indexes | {JSALT_ALWAYS_ABSENT_ROW_INDEX})
    return config


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file and validate it (see :func:`validate_config`)."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}") from error
    if not isinstance(config, dict):
        raise ConfigError(f"config file {path} must contain a mapping of keys to values")
    return validate_config(config)


def method_specs(config: dict[str, Any]) -> list[MethodSpec]:
    """Return the configured methods in config order (the first two are the table columns)."""
    return [
        MethodSpec(
            name=name,
            label=method["label"],
            format=method["format"],
            path=method.get("path", ""),
            absent_row_indexes=tuple(method["absent_row_indexes"]),
            edges=method.get("edges", ""),
            prone=method.get("prone"),
        )
        for name, method in config["methods"].items()
    ]
