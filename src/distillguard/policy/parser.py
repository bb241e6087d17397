"""Read a policy YAML file into a :class:`~distillguard.policy.model.Policy`, or say why not.

Every problem is collected (not only the first) and reported as one ``UserError`` naming
the file, the line and the field, with what was expected, so an operator can fix a broken
policy in one go.  The guard keeps serving its previous policy while a new file is broken.

The file format is documented in ``docs/guard.md`` and ``examples/policy.yaml``.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any, TypeVar

import yaml

from distillguard.errors import UserError
from distillguard.policy.model import (
    POLICY_FORMAT_VERSION,
    Action,
    Bands,
    Bucket,
    Condition,
    FailMode,
    Policy,
    Protection,
    Rule,
    Signals,
    Throttle,
)
from distillguard.schema import VERDICTS

Path_ = tuple[str | int, ...]
E = TypeVar("E", Action, Protection, FailMode)

TOP_KEYS = {"version", "name", "revision", "fail_mode", "bands", "signals", "throttle", "rules"}
TOP_KEYS |= {"default"}
RULE_KEYS = {"name", "when", "action", "protect_outputs"}
WHEN_KEYS = {"verdict", "min_score", "max_score", "cluster_verdict", "min_cluster_score"}
DEFAULT_KEYS = {"action", "protect_outputs"}
BUCKET_KEYS = {"rate_per_minute", "burst"}


def _line_map(node: yaml.Node, path: Path_, out: dict[Path_, int]) -> None:
    """Record the 1-based line of every key and item, so errors can point at them."""
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            out[child] = key.start_mark.line + 1
            _line_map(value, child, out)
            out[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _line_map(item, (*path, index), out)


class _Checker:
    """Collects every problem with its line, then raises them together."""

    def __init__(self, source: str, lines: dict[Path_, int]) -> None:
        self.source = source
        self.lines = lines
        self.problems: list[tuple[int, str]] = []

    def fail(self, path: Path_, problem: str) -> None:
        line = self.lines.get(path) or self.lines.get(path[:-1]) or 1
        field = ".".join(f"[{p}]" if isinstance(p, int) else p for p in path).replace(".[", "[")
        message = f"{self.source}, line {line}, field '{field or '(top)'}': {problem}"
        self.problems.append((line, message))

    def mapping(self, value: Any, path: Path_, allowed: set[str]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping with keys {', '.join(sorted(allowed))}")
            return {}
        for key in value:
            if key not in allowed:
                self.fail((*path, str(key)), f"unknown key; allowed: {', '.join(sorted(allowed))}")
        return value

    def number(
        self, raw: dict[str, Any], key: str, path: Path_, default: float, *, unit: bool = False
    ) -> float:
        if key not in raw:
            return default
        value = raw[key]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value < 0 or (unit and value > 1):
            want = "a number in [0, 1]" if unit else "a non-negative number"
            self.fail((*path, key), f"must be {want}, got {value!r}")
            return default
        return float(value)

    def optional_unit(self, raw: dict[str, Any], key: str, path: Path_) -> float | None:
        if key not in raw:
            return None
        value = self.number(raw, key, path, math.nan, unit=True)
        return None if math.isnan(value) else value

    def text(self, raw: dict[str, Any], key: str, path: Path_, default: str) -> str:
        value = raw.get(key, default)
        if not isinstance(value, str | int | float) or isinstance(value, bool) or value == "":
            self.fail((*path, key), f"must be a non-empty string, got {value!r}")
            return default
        return str(value)

    def choice(self, raw: dict[str, Any], key: str, path: Path_, kind: type[E], default: E) -> E:
        if key not in raw:
            return default
        try:
            return kind(raw[key])
        except ValueError:
            names = ", ".join(member.value for member in kind)
            self.fail((*path, key), f"must be one of {names}, got {raw[key]!r}")
            return default

    def verdicts(self, raw: dict[str, Any], key: str, path: Path_) -> frozenset[str] | None:
        if key not in raw:
            return None
        value = raw[key]
        items = value if isinstance(value, list) else [value]
        bad = [v for v in items if v not in VERDICTS]
        if bad or not items:
            self.fail(
                (*path, key), f"must be one or a list of {', '.join(VERDICTS)}, got {value!r}"
            )
            return None
        return frozenset(items)


def _bucket(check: _Checker, raw: Any, path: Path_, default: Bucket | None) -> Bucket | None:
    if raw is False:
        return None  # this scope is not throttled
    if raw is None:
        return default
    fields = check.mapping(raw, path, BUCKET_KEYS)
    base = default or Bucket(rate_per_minute=10.0, burst=5.0)
    bucket = Bucket(
        rate_per_minute=check.number(fields, "rate_per_minute", path, base.rate_per_minute),
        burst=check.number(fields, "burst", path, base.burst),
    )
    if bucket.burst < 1:
        check.fail((*path, "burst"), "must be at least 1 (a bucket holding no token refuses all)")
    return bucket


def _rule(check: _Checker, raw: Any, index: int) -> Rule | None:
    path: Path_ = ("rules", index)
    fields = check.mapping(raw, path, RULE_KEYS)
    if not fields:
        if raw is not None and isinstance(raw, dict):
            check.fail(path, "a rule needs at least 'action'")
        return None
    if "action" not in fields:
        check.fail(path, "is missing 'action'")
    when = check.mapping(fields.get("when"), (*path, "when"), WHEN_KEYS)
    wpath = (*path, "when")
    condition = Condition(
        verdicts=check.verdicts(when, "verdict", wpath),
        min_score=check.optional_unit(when, "min_score", wpath),
        max_score=check.optional_unit(when, "max_score", wpath),
        cluster_verdicts=check.verdicts(when, "cluster_verdict", wpath),
        min_cluster_score=check.optional_unit(when, "min_cluster_score", wpath),
    )
    return Rule(
        name=check.text(fields, "name", path, f"rule {index + 1}"),
        when=condition,
        action=check.choice(fields, "action", path, Action, Action.ALLOW),
        protect_outputs=check.choice(fields, "protect_outputs", path, Protection, Protection.NONE),
    )


def _section(
    check: _Checker, doc: dict[str, Any], key: str, keys: set[str]
) -> tuple[dict[str, Any], Path_]:
    return check.mapping(doc.get(key), (key,), keys), (key,)


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Validate ``text`` (YAML) and build the policy; one ``UserError`` lists every problem."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise UserError(
            f"{source}{where}: not valid YAML ({getattr(error, 'problem', error)}); fix the "
            "syntax, then run `distillguard policy check` on it"
        ) from None
    lines: dict[Path_, int] = {}
    if node is not None:
        _line_map(node, (), lines)
    check = _Checker(source, lines)
    doc = check.mapping(doc, (), TOP_KEYS) if doc is not None else {}
    if not doc:
        check.fail((), "the file is empty or not a mapping; start from examples/policy.yaml")
    version = doc.get("version")
    if version != POLICY_FORMAT_VERSION:
        check.fail(
            ("version",), f"must be {POLICY_FORMAT_VERSION} (the policy format), got {version!r}"
        )

    bands_raw, bpath = _section(check, doc, "bands", {"review", "distillation"})
    bands = Bands(
        review=check.number(bands_raw, "review", bpath, Bands.review, unit=True),
        distillation=check.number(bands_raw, "distillation", bpath, Bands.distillation, unit=True),
    )
    if bands.review > bands.distillation:
        check.fail(("bands", "review"), "must not be above bands.distillation")

    names = {f for f in Signals.__dataclass_fields__}
    signals_raw, spath = _section(check, doc, "signals", names)
    defaults = Signals()
    signals = Signals(
        **{n: check.number(signals_raw, n, spath, getattr(defaults, n)) for n in names}
    )
    if signals.window_seconds <= 0:
        check.fail(("signals", "window_seconds"), "must be above 0")
    for soft, hard in (("rate_soft", "rate_hard"), ("shared_wrapper_soft", "shared_wrapper_hard")):
        if getattr(signals, soft) >= getattr(signals, hard):
            check.fail(("signals", hard), f"must be above signals.{soft}")

    throttle_raw, tpath = _section(check, doc, "throttle", {"account", "cluster"})
    throttle = Throttle(
        account=_bucket(check, throttle_raw.get("account"), (*tpath, "account"), Throttle.account),
        cluster=_bucket(check, throttle_raw.get("cluster"), (*tpath, "cluster"), Throttle.cluster),
    )

    rules_raw = doc.get("rules", [])
    rules: list[Rule] = []
    if not isinstance(rules_raw, list):
        check.fail(("rules",), "must be a list of rules (tried top to bottom)")
        rules_raw = []
    for index, raw in enumerate(rules_raw):
        rule = _rule(check, raw, index)
        if rule is not None:
            rules.append(rule)

    default_raw, dpath = _section(check, doc, "default", DEFAULT_KEYS)
    default = Rule(
        name="default",
        when=Condition(),
        action=check.choice(default_raw, "action", dpath, Action, Action.ALLOW),
        protect_outputs=check.choice(
            default_raw, "protect_outputs", dpath, Protection, Protection.NONE
        ),
    )
    policy = Policy(
        name=check.text(doc, "name", (), "policy"),
        revision=check.text(doc, "revision", (), "unversioned"),
        rules=tuple(rules),
        default=default,
        fail_mode=check.choice(doc, "fail_mode", (), FailMode, FailMode.OPEN),
        bands=bands,
        signals=signals,
        throttle=throttle,
        source=source,
        digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )
    if check.problems:
        count = len(check.problems)
        raise UserError(
            f"{source}: {count} problem{'s' if count > 1 else ''} in the policy "
            "(see docs/guard.md, 'Policy file'):\n  "
            + "\n  ".join(message for _, message in sorted(check.problems))
        )
    return policy


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: policy file not found; start from examples/policy.yaml") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: cannot read the policy file ({error})") from None
    return parse_policy(text, str(path))
