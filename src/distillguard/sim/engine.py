"""Turns a `World` of accounts into contract-format exchanges, one day at a time.

Per day, each account's expected volume becomes sessions (a human conversation, a scripted
batch, or one call), placed in time by the account's hour-of-day shape and time zone — or,
for synchronised campaigns, inside the campaign's shared windows.  Sessions expand to rows,
rows are sorted by time and encoded as JSON Lines.  Memory is bounded by one day of rows.
"""

from __future__ import annotations

import bisect
import math
import random
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import orjson

from distillguard.sim import wrappers
from distillguard.sim.accounts import DAY, HOUR, SimAccount, World
from distillguard.sim.behaviour import BENIGN, HOURLY, Behaviour
from distillguard.sim.prompts import PromptItem
from distillguard.sim.scenarios import Scenario

WINDOW_START = datetime(2026, 10, 1, tzinfo=UTC)
OLD_MODEL, MINI_MODEL, NEW_MODEL = "nw-large-1", "nw-mini-1", "nw-large-2"
KIND_FALLBACK = {
    "agentic_code": "tool_use",
    "exam_zh": "chat_zh",
    "chat_ru": "chat_en",
    "hard_instruct": "chat_en",
    "code": "chat_en",
    "grading": "chat_en",
    "tool_use": "chat_en",
    "chat_zh": "chat_en",
    "math": "chat_en",
}
TIMINGS = ("flat", "windows", "evening", "workday", "app")
HARVEST_INTENTS = frozenset(
    {"cot", "reconstruct", "grading", "censor_safe", "tool", "code", "vision"}
)
SWEEP_INTENTS = HARVEST_INTENTS | {"benchmark"}
BARE_WITH_INSTRUCTION = frozenset({"cot", "code"})
"""Intents whose wrapper is only a step-by-step instruction: with ``instruction_in_system``
the instruction rides in the account's system prompt and the request is the bare task."""
SUITE_ITEMS = 400
"""Items of a public benchmark suite per pool (GSM8K's test set has 1,319, HumanEval 164)."""

# Output length (tokens): median per intent; reasoning tokens only where reasoning is on.
OUTPUT_MEDIAN = {
    "photo": 250,
    "plain": 320,
    "homework": 420,
    "app": 260,
    "benchmark": 180,
    "cot": 1800,
    "reconstruct": 1500,
    "grading": 450,
    "censor_safe": 600,
    "tool": 300,
    "code": 900,
    "vision": 700,
    "self_check": 500,
    "explain_answer": 900,
    "revise": 300,
}
REASONING_MEDIAN = {"cot": 5000, "reconstruct": 3500, "grading": 1200, "code": 2500, "tool": 1500}
OUTPUT_LOG_MEDIAN = {intent: math.log(value) for intent, value in OUTPUT_MEDIAN.items()}
REASONING_LOG_MEDIAN = {intent: math.log(value) for intent, value in REASONING_MEDIAN.items()}


class PromptPools:
    """Items grouped by kind, with stable sweep orders for fleets that cover a pool."""

    def __init__(self, items: list[PromptItem], seed: int) -> None:
        by_kind: dict[str, list[PromptItem]] = {}
        for item in items:
            by_kind.setdefault(item.kind, []).append(item)
        self.by_kind = by_kind
        if "chat_en" not in by_kind:
            raise ValueError("prompt pools need at least chat_en items")
        rng = np.random.default_rng([seed, 2])
        self.order = {kind: rng.permutation(len(pool)) for kind, pool in by_kind.items()}
        self.items = [item for pool in by_kind.values() for item in pool]
        self.position = {id(item): index for index, item in enumerate(self.items)}

    def suite(self, kind: str) -> npt.NDArray[np.int64]:
        """The public benchmark suite of a pool: the same :data:`SUITE_ITEMS` items for every
        team (a public test set), which teams re-run on every model they compare."""
        order: npt.NDArray[np.int64] = self.order[kind][:SUITE_ITEMS]
        return order

    def resolve(self, kind: str) -> str:
        """The kind itself, or its fallback where this pool set lacks it."""
        while kind not in self.by_kind:
            kind = KIND_FALLBACK.get(kind, "chat_en")
        return kind


INTENTS = (
    "plain", "homework", "benchmark", "app", "photo",
    "cot", "reconstruct", "grading", "censor_safe", "tool", "code", "vision",
    "self_check", "explain_answer", "revise",
)  # fmt: skip
INTENT_CODES = {intent: code for code, intent in enumerate(INTENTS)}


class RowBuffer:
    """One day's rows as compact columns (Python arrays), before sorting by time."""

    def __init__(self) -> None:
        self.ts = array("d")
        self.account = array("l")
        self.item = array("l")
        self.turn = array("h")
        self.intent = array("b")
        self.conversation = array("Q")

    def add(
        self, ts: float, account: int, item: int, turn: int, intent: str, conversation: int
    ) -> None:
        """Append one row (``conversation`` 0 means none)."""
        self.ts.append(ts)
        self.account.append(account)
        self.item.append(item)
        self.turn.append(turn)
        self.intent.append(INTENT_CODES[intent])
        self.conversation.append(conversation)


@dataclass(slots=True)
class Row:
    """One exchange before encoding."""

    ts: float
    account: int
    item: PromptItem
    turn: int
    intent: str
    conversation: str | None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(part.get("text", "") for part in content if part.get("type") == "text")


def _first_user(item: PromptItem) -> str:
    for message in item.messages:
        if message["role"] == "user":
            return _text(message["content"])
    return ""


def _upto_turn(item: PromptItem, turn: int) -> list[dict[str, Any]]:
    """Messages up to and including the ``turn``-th (1-based) user message."""
    seen = 0
    for index, message in enumerate(item.messages):
        if message["role"] == "user":
            seen += 1
            if seen == turn:
                return list(item.messages[: index + 1])
    return list(item.messages)


class ExchangeGenerator:
    """Generates the exchanges of a world, day by day, deterministically from the seed."""

    def __init__(
        self,
        world: World,
        scenario: Scenario,
        pools: PromptPools,
        seed: int,
        wrapper_bank: str = "all",
    ) -> None:
        self.world = world
        self.scenario = scenario
        self.pools = pools
        self.seed = seed
        self.accounts = world.accounts
        self.sweep_position: dict[tuple[int, str], int] = {}
        self.days = [
            (WINDOW_START + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(scenario.days)
        ]
        self.minutes = [
            f"{day}T{h:02d}:{m:02d}:" for day in self.days for h in range(24) for m in range(60)
        ]
        self.last_milli = scenario.days * 86_400_000 - 1
        self.expected = self._expected_per_day()
        for account in self.accounts:
            account.day_boost.clear()  # folded into `expected`; frees memory before forking
        behaviours = {id(a.behaviour): a.behaviour for a in self.accounts}
        self.mean_turns = {key: self._mean_turns(b) for key, b in behaviours.items()}
        self.weights = {
            id(b): self._mix_arrays(b)
            for b in {id(a.behaviour): a.behaviour for a in self.accounts}.values()
        }
        self.casual_mix = self._mix_arrays(BENIGN["casual_chat"])
        self.encoded_accounts = [self._account_prefix(a) for a in self.accounts]
        self.styles = [
            wrappers.WrapperStyle(a.paraphrase, a.wrapper_variant, wrapper_bank, a.house)
            for a in self.accounts
        ]
        self.plain_cache: dict[tuple[int, int], tuple[list[Any], int]] = {}
        self.sweep_start = self._sweep_starts()
        self.session_lengths = np.array([self._session_length(a) for a in self.accounts])
        self.timing_codes = self._timing_codes()
        self.tz = np.array([a.tz_hours for a in self.accounts])

    # -- volume ----------------------------------------------------------------------

    def _expected_per_day(self) -> np.ndarray:
        """Expected exchanges per account and day, summing to each account's volume."""
        days = self.scenario.days
        starts = np.arange(days) * 24.0
        active_from = np.array([a.active_from for a in self.accounts])
        active_to = np.array([a.active_to for a in self.accounts])
        overlap = (
            np.clip(
                np.minimum(active_to[:, None], starts + 24.0)
                - np.maximum(active_from[:, None], starts),
                0.0,
                None,
            )
            / 24.0
        )
        weekend = np.array([(WINDOW_START + timedelta(days=d)).weekday() >= 5 for d in range(days)])
        factors = np.array([a.behaviour.weekend for a in self.accounts])
        table = overlap * np.where(weekend, factors[:, None], 1.0)
        for index, account in enumerate(self.accounts):
            for day, boost in account.day_boost.items():
                if day < days:
                    table[index, day] *= boost
        totals = table.sum(axis=1)
        volumes = np.array([a.volume for a in self.accounts])
        scale = np.divide(volumes, totals, out=np.zeros_like(volumes), where=totals > 0)
        expected: np.ndarray = table * scale[:, None]
        return expected

    def _sweep_starts(self) -> list[dict[tuple[int, str], int]]:
        """Where each fleet's sweep of each pool stands at the start of each day.

        A fleet that covers a task pool walks one shuffled order of it; the position at the
        start of a day is the fleet's expected volume so far, so days can be generated
        independently (in parallel) and still continue one sweep.
        """
        rng = np.random.default_rng([self.seed, 3])
        per_group: dict[tuple[int, str], np.ndarray] = {}
        for index, account in enumerate(self.accounts):
            total = sum(w for _, _, w in account.behaviour.mix)
            for kind, intent, weight in account.behaviour.mix:
                if intent in SWEEP_INTENTS:
                    key = (account.group, self.pools.resolve(kind))
                    share = (1.0 - account.mix_benign) * weight / total
                    per_group.setdefault(key, np.zeros(self.scenario.days))
                    per_group[key] += self.expected[index] * share
        starts: list[dict[tuple[int, str], int]] = [{} for _ in range(self.scenario.days)]
        for key, volume in per_group.items():
            offset = int(rng.integers(len(self.pools.by_kind[key[1]])))
            cumulative = np.concatenate([[0.0], np.cumsum(volume)[:-1]])
            for day in range(self.scenario.days):
                starts[day][key] = offset + int(cumulative[day])
        return starts

    def _mix_arrays(self, behaviour: Behaviour) -> tuple[list[tuple[str, str]], list[float]]:
        choices = [(self.pools.resolve(kind), intent) for kind, intent, _ in behaviour.mix]
        weights = np.array([w for _, _, w in behaviour.mix], dtype=float)
        return choices, np.cumsum(weights / weights.sum()).tolist()

    def _session_length(self, account: SimAccount) -> float:
        behaviour = account.behaviour
        if behaviour.session == "batch":
            return behaviour.session_len
        if behaviour.session == "conversation":
            return self.mean_turns[id(behaviour)]
        return 1.0

    def _mean_turns(self, behaviour: Behaviour) -> float:
        """Expected rows per conversation: the mix's mean of min(user turns, cap)."""
        total = weight_sum = 0.0
        for kind, intent, weight in behaviour.mix:
            pool = self.pools.by_kind[self.pools.resolve(kind)]
            if intent in HARVEST_INTENTS:
                turns = 1.0
            else:
                turns = float(
                    np.mean([min(i.user_turns, int(behaviour.session_len)) for i in pool])
                )
            total += weight * turns
            weight_sum += weight
        return total / weight_sum

    # -- per-account encoding ----------------------------------------------------------

    @staticmethod
    def _account_prefix(account: SimAccount) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "account_id": account.account_id,
            "api_key_id": account.api_key_id,
        }
        if account.organization_id:
            fields["organization_id"] = account.organization_id
        fields["user_agent"] = account.user_agent
        return fields

    # -- time --------------------------------------------------------------------------

    def _timing_codes(self) -> np.ndarray:
        """Per account: index into TIMINGS of the hour-of-day shape its sessions follow."""
        codes = np.empty(len(self.accounts), dtype=np.int8)
        for index, account in enumerate(self.accounts):
            timing = account.behaviour.timing
            if account.campaign and account.human_timing:
                timing = "workday"
            elif timing == "windows" and account.group not in self.world.windows:
                timing = "flat"
            codes[index] = TIMINGS.index(timing)
        return codes

    def _session_starts(self, who: np.ndarray, day: int, rng: np.random.Generator) -> np.ndarray:
        """Start times (seconds after the window start) of sessions of accounts ``who``."""
        base = day * DAY
        starts = base + rng.random(len(who)) * DAY
        codes = self.timing_codes[who]
        for code, timing in enumerate(TIMINGS):
            mask = codes == code
            count = int(mask.sum())
            if not count or timing == "flat":
                continue
            if timing == "windows":
                for position in np.flatnonzero(mask).tolist():
                    windows = self.world.windows[self.accounts[int(who[position])].group]
                    start, length = windows[int(rng.integers(len(windows)))]
                    starts[position] = base + (start + rng.random() * length) * HOUR
                continue
            profile = np.asarray(HOURLY[timing])
            hours = rng.choice(24, size=count, p=profile / profile.sum())
            utc = (hours - self.tz[who[mask]]) % 24
            starts[mask] = base + (utc + rng.random(count)) * HOUR
        return starts

    # -- rows --------------------------------------------------------------------------

    def _choose(self, account: SimAccount, rng: random.Random) -> tuple[str, str]:
        mix, cumulative = self.weights[id(account.behaviour)]
        if account.mix_benign and rng.random() < account.mix_benign:
            mix, cumulative = self.casual_mix
        return mix[
            min(bisect.bisect_right(cumulative, rng.random() * cumulative[-1]), len(mix) - 1)
        ]

    def _item(self, account: SimAccount, kind: str, intent: str, rng: random.Random) -> PromptItem:
        pool = self.pools.by_kind[kind]
        if intent in SWEEP_INTENTS:
            key = (account.group, kind)
            position = self.sweep_position.get(key, 0)
            self.sweep_position[key] = position + 1
            # A harvest covers the pool; a benchmark team cycles through the public suite,
            # the same items as every other team, again for each model and run.
            order = self.pools.suite(kind) if intent == "benchmark" else self.pools.order[kind]
            return pool[int(order[position % len(order)])]
        return pool[rng.randrange(len(pool))]

    def _session_rows(self, index: int, start: float, rng: random.Random, out: RowBuffer) -> None:
        """Append the rows of one session that starts at ``start`` to ``out``."""
        account = self.accounts[index]
        behaviour = account.behaviour
        kind, intent = self._choose(account, rng)
        if behaviour.session == "conversation" and intent not in HARVEST_INTENTS:
            item = self._item(account, kind, intent, rng)
            turns = min(item.user_turns, int(behaviour.session_len))
            conversation = rng.getrandbits(64) | 1
            ts = start
            for turn in range(1, turns + 1):
                out.add(ts, index, self.pools.position[id(item)], turn, intent, conversation)
                ts += behaviour.gap_seconds * rng.lognormvariate(0.0, 0.8) + 5.0
            return
        length = 1
        if behaviour.session == "batch":
            length = max(
                1, round(rng.gauss(behaviour.session_len, math.sqrt(behaviour.session_len)))
            )
        ts = start
        scripted = (
            account.campaign is not None and not account.human_timing
        ) or account.population in ("benchmark_company", "indie_automation")
        for position in range(length):
            if position:
                kind, intent = self._choose(account, rng)
            item = self._item(account, kind, intent, rng)
            turn = 1
            if intent == "tool" and item.user_turns > 1:
                turn = rng.randint(1, item.user_turns)
            out.add(ts, index, self.pools.position[id(item)], turn, intent, 0)
            gap = behaviour.gap_seconds
            ts += (
                gap * (1.0 + 0.05 * rng.gauss(0.0, 1.0))
                if scripted
                else gap * rng.expovariate(1.0) * 3 + 2.0
            )

    # -- encoding ----------------------------------------------------------------------

    def _plain_messages(self, item: PromptItem, turn: int) -> tuple[list[Any], int]:
        """Messages of an unwrapped request and their text length, cached per item and turn."""
        key = (id(item), turn)
        cached = self.plain_cache.get(key)
        if cached is None:
            messages = _upto_turn(item, turn)
            cached = (messages, sum(len(_text(m["content"])) for m in messages))
            self.plain_cache[key] = cached
        return cached

    def _messages(
        self, row: Row, account: SimAccount, rng: random.Random
    ) -> tuple[list[Any], str | None, Any, int]:
        """(messages, system prompt, tools, characters of text) for one row."""
        item, intent = row.item, row.intent
        system: str | None = item.system
        tools: Any = item.tools
        if intent == "plain" or (intent == "tool" and row.turn > 1):
            messages, chars = self._plain_messages(item, row.turn)
            if intent == "plain" and account.habit and _habitual(row):
                messages, chars = _with_habit(messages, account.habit), chars + len(account.habit)
            if intent == "tool":
                system = wrappers.harvest_text(
                    "tool", item, "", self.styles[row.account], rng
                ).strip()
            return messages, system, tools, chars + len(system or "")
        question = _first_user(item)
        if intent == "homework":
            text = wrappers.homework_text(question, rng)
            if account.habit and _habitual(row):
                text = wrappers.with_habit(text, account.habit)
        elif intent in wrappers.STUDY_BANKS:
            text = wrappers.study_text(intent, question, item.answer, rng)
        elif intent == "benchmark":
            text = wrappers.benchmark_text(question, account.harness)
        elif intent == "app":
            template = account.app_template or "{q}"
            text = template.format(q=question, n=rng.randrange(10000, 99999))
            system = account.system_prompt
            tools = account.app_tools if item.kind == "tool_use" else None
        elif intent == "photo":
            text = wrappers.photo_text(rng)
            content = [{"type": "image"}, {"type": "text", "text": text}]
            return [{"role": "user", "content": content}], None, None, len(text) + 3000
        elif intent == "vision":
            text = wrappers.harvest_text("vision", item, question, self.styles[row.account], rng)
            content = [{"type": "image"}, {"type": "text", "text": text}]
            return [{"role": "user", "content": content}], None, None, len(text) + 3000
        elif account.instruction_in_system and intent in BARE_WITH_INSTRUCTION:
            text = question  # the step-by-step instruction rides in the cover system prompt
        else:
            text = wrappers.harvest_text(intent, item, question, self.styles[row.account], rng)
        return [{"role": "user", "content": text}], system, tools, len(text) + len(system or "")

    def _model(self, account: SimAccount, ts: float, rng: random.Random) -> str:
        delay, final, tau = account.behaviour.adoption
        since = ts / HOUR - self.scenario.release_hour - delay
        if since > 0 and rng.random() < final * (1.0 - math.exp(-since / tau)):
            return NEW_MODEL
        if rng.random() < account.behaviour.mini_share:
            return MINI_MODEL
        return OLD_MODEL

    def _client_ip(self, account: SimAccount, rng: random.Random) -> str:
        if account.proxy_pool >= 0:
            pool = self.world.proxy_pools[account.proxy_pool]
            return pool[rng.randrange(len(pool))]
        ips = account.ips
        return ips[0] if len(ips) == 1 or rng.random() < 0.7 else ips[rng.randrange(len(ips))]

    def _timestamp(self, ts: float) -> str:
        """RFC 3339 with milliseconds, from seconds after the window start."""
        millis = min(max(0, int(ts * 1000)), self.last_milli)
        minute, millis = divmod(millis, 60_000)
        return f"{self.minutes[minute]}{millis // 1000:02d}.{millis % 1000:03d}Z"

    def _encode(self, row: Row, rng: random.Random) -> bytes:
        account = self.accounts[row.account]
        messages, system, tools, chars = self._messages(row, account, rng)
        if account.campaign and account.system_prompt and not system:
            # A campaign's cover instruction rides on every request it sends.
            system, chars = account.system_prompt, chars + len(account.system_prompt)
        record: dict[str, Any] = {
            "exchange_id": f"req_{rng.getrandbits(96):024x}",
            "timestamp": self._timestamp(row.ts),
            **self.encoded_accounts[row.account],
            "client_ip": self._client_ip(account, rng),
            "model": self._model(account, row.ts, rng),
        }
        if system:
            record["system_prompt"] = system
        record["messages"] = messages
        if tools:
            record["tools"] = tools
        params = account.params
        if account.campaign == "reasoning_cot":
            params = {**params, "n": 4 if rng.random() < 0.3 else 1}
        if params:
            record["params"] = params
        per_token = 1.6 if row.item.lang == "zh" else 4.0
        record["input_tokens"] = max(1, int(chars / per_token) + (60 * len(tools) if tools else 0))
        output_tokens = max(
            1, int(math.exp(OUTPUT_LOG_MEDIAN.get(row.intent, 5.7) + 0.6 * rng.gauss(0.0, 1.0)))
        )
        reasoning = 0
        if "reasoning_effort" in params:
            reasoning = int(
                math.exp(REASONING_LOG_MEDIAN.get(row.intent, 6.4) + 0.7 * rng.gauss(0.0, 1.0))
            )
        cap = params.get("max_tokens")
        finish = "stop"
        if isinstance(cap, int) and output_tokens + reasoning > cap:
            reasoning = min(reasoning, cap // 2)
            output_tokens, finish = max(1, cap - reasoning), "length"
        if row.intent == "tool" and rng.random() < 0.6:
            finish = "tool_calls"
        record["output_tokens"] = output_tokens
        if reasoning:
            record["reasoning_tokens"] = reasoning
        record["finish_reason"] = finish
        if row.conversation:
            record["conversation_id"] = row.conversation
        heavy = account.campaign is not None or account.population == "enterprise_app"
        record["status"] = 429 if rng.random() < (0.02 if heavy else 0.002) else 200
        return orjson.dumps(record)

    # -- public ------------------------------------------------------------------------

    def day_rows(self, day: int) -> Iterator[Row]:
        """Every row of one day in time order (depends only on the seed and the day).

        Rows are kept in compact columns (about 30 bytes each) and turned into `Row`
        objects one at a time, so a day of a 16M-exchange run stays small in memory.
        """
        rng = np.random.default_rng([self.seed, 1000 + day])
        rand = random.Random(self.seed * 1_000_003 + day)
        self.sweep_position = dict(self.sweep_start[day])
        sessions = rng.poisson(self.expected[:, day] / self.session_lengths)
        who = np.repeat(np.arange(len(self.accounts)), sessions)
        starts = self._session_starts(who, day, rng)
        buffer = RowBuffer()
        for index, start in zip(who.tolist(), starts.tolist(), strict=True):
            self._session_rows(index, start, rand, buffer)
        del who, starts
        times = np.frombuffer(buffer.ts, dtype=np.float64)
        order = np.argsort(times, kind="stable")
        order = order[times[order] < self.scenario.days * DAY]
        items = self.pools.items
        for position in order.tolist():
            conversation = buffer.conversation[position]
            yield Row(
                buffer.ts[position],
                buffer.account[position],
                items[buffer.item[position]],
                buffer.turn[position],
                INTENTS[buffer.intent[position]],
                f"conv_{conversation:016x}" if conversation else None,
            )

    def write_day(self, day: int, handle: BinaryIO) -> np.ndarray:
        """Write one day's lines to ``handle``; returns exchanges per account that day."""
        rows = self.day_rows(day)
        rand = random.Random(self.seed * 2_000_003 + day)
        counts = np.zeros(len(self.accounts), dtype=np.int64)
        chunk: list[bytes] = []
        for row in rows:
            counts[row.account] += 1
            chunk.append(self._encode(row, rand))
            if len(chunk) >= 4000:
                handle.write(b"\n".join(chunk) + b"\n")
                chunk = []
        if chunk:
            handle.write(b"\n".join(chunk) + b"\n")
        return counts


def _habitual(row: Row) -> bool:
    """Whether this request of a habitual customer carries their phrase (a draw from the
    row itself, so no other account's traffic changes)."""
    key = f"{row.account}:{row.ts:.3f}:{row.turn}".encode()
    return zlib.crc32(key) / 2**32 < wrappers.HABIT_USE


def _with_habit(messages: list[Any], habit: str) -> list[Any]:
    """The messages with the customer's phrase after their last question (a copy: plain
    messages are cached and shared)."""
    out = list(messages)
    for index in range(len(out) - 1, -1, -1):
        message = out[index]
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            out[index] = {**message, "content": wrappers.with_habit(message["content"], habit)}
            break
    return out
