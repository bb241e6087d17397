"""Prompt pools for the simulator, read from real public prompt collections.

Two sources feed the same `PromptItem` shape:

* a datasets folder laid out like ``../shared/datasets`` (the full collections, for tests
  and benchmarks), read by one small extractor per collection;
* the sample shipped inside the package (``sim/data/prompt_sample.jsonl.gz``), drawn from the
  permissively licensed collections only, so an installed demo runs without ``../shared``.

Every collection is tagged with a *split* (``dev`` or ``holdout``) so that detectors can be
developed on one set of prompt sources and reported on sources they never saw.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from distillguard.errors import UserError

KINDS = (
    "chat_en",
    "chat_zh",
    "chat_ru",
    "math",
    "code",
    "agentic_code",
    "tool_use",
    "grading",
    "exam_zh",
    "hard_instruct",
)
"""What a prompt asks for; populations mix kinds, campaigns harvest some of them."""

MAX_MESSAGE_CHARS = 6000
"""Longer messages are cut (real logs keep them, but the simulator must stay fast)."""

SAMPLE_RESOURCE = "prompt_sample.jsonl.gz"

Message = dict[str, Any]


@dataclass(frozen=True)
class PromptItem:
    """One prompt or conversation from a real collection.

    ``messages`` is the whole conversation in contract form (user, assistant and tool
    turns); a request for turn *k* sends the messages up to the *k*-th user message.
    """

    kind: str
    source: str
    split: str
    lang: str
    messages: tuple[Message, ...]
    system: str | None = None
    tools: tuple[dict[str, Any], ...] | None = None
    answer: str | None = None
    user_turns: int = field(default=1)

    def to_json(self) -> dict[str, Any]:
        """Plain dict for the shipped sample file."""
        return {
            "kind": self.kind,
            "source": self.source,
            "split": self.split,
            "lang": self.lang,
            "messages": list(self.messages),
            "system": self.system,
            "tools": list(self.tools) if self.tools is not None else None,
            "answer": self.answer,
        }

    @staticmethod
    def from_json(record: dict[str, Any]) -> PromptItem:
        """Inverse of :meth:`to_json`."""
        return make_item(
            record["kind"],
            record["source"],
            record["split"],
            record["lang"],
            record["messages"],
            system=record.get("system"),
            tools=record.get("tools"),
            answer=record.get("answer"),
        )


def _cut(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS]


def make_item(
    kind: str,
    source: str,
    split: str,
    lang: str,
    messages: list[Message],
    *,
    system: str | None = None,
    tools: list[dict[str, Any]] | None = None,
    answer: str | None = None,
) -> PromptItem:
    """Build an item, trimming long texts and counting user turns."""
    cleaned: list[Message] = []
    for message in messages:
        content = message["content"]
        if isinstance(content, str):
            content = _cut(content)
        else:
            content = [
                {**part, "text": _cut(part["text"])} if "text" in part else part for part in content
            ]
        cleaned.append({"role": message["role"], "content": content})
    turns = sum(1 for m in cleaned if m["role"] == "user")
    if tools:
        tools = [_flat_tool(tool) for tool in tools if isinstance(tool, dict)]
    return PromptItem(
        kind=kind,
        source=source,
        split=split,
        lang=lang,
        messages=tuple(cleaned),
        system=_cut(system) if system else None,
        tools=tuple(tools) if tools else None,
        answer=_cut(answer) if answer else None,
        user_turns=max(turns, 1),
    )


def _flat_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """Contract form of a tool definition: ``name`` at the top (OpenAI nests it in ``function``)."""
    if "name" not in tool and isinstance(tool.get("function"), dict):
        return dict(tool["function"])
    return tool


def _user(text: str) -> Message:
    return {"role": "user", "content": text}


def _read_jsonl(path: Path) -> Iterator[Any]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _read_json(path: Path) -> Any:
    """A JSON document, or JSON Lines saved under a .json name (both occur upstream)."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def _sharegpt(root: Path) -> Iterator[PromptItem]:
    roles = {"human": "user", "gpt": "assistant", "chatgpt": "assistant", "bing": "assistant"}
    for record in _read_jsonl(root / "sharegpt_v3_part1/sharegpt_v3_first12000.jsonl.gz"):
        messages = [
            {"role": roles.get(turn["from"], "user"), "content": turn["value"]}
            for turn in record.get("conversations", [])[:16]
            if turn.get("value")
        ]
        if messages and messages[0]["role"] == "user":
            yield make_item("chat_en", "sharegpt_v3", "dev", "en", messages)


def _oasst(root: Path) -> Iterator[PromptItem]:
    for name in ("en_100_text.jsonl", "prompt_lottery_en_250_text.jsonl"):
        for text in _read_jsonl(root / "oasst_eval_samples" / name):
            if isinstance(text, str) and text.strip():
                yield make_item("chat_en", "oasst", "holdout", "en", [_user(text)])


def _hh_rlhf(root: Path) -> Iterator[PromptItem]:
    for record in _read_jsonl(root / "hh_rlhf_harmless_base_test/test.jsonl.gz"):
        messages: list[Message] = []
        for chunk in record["chosen"].split("\n\nHuman: ")[1:]:
            human, _, assistant = chunk.partition("\n\nAssistant: ")
            messages.append(_user(human.strip()))
            if assistant.strip():
                messages.append({"role": "assistant", "content": assistant.strip()})
        if messages:
            yield make_item("chat_en", "hh_rlhf", "dev", "en", messages)


def _instruction_with_input(instruction: str, given: str) -> str:
    return f"{instruction}\n\n{given}" if given else instruction


def _alpaca_eval(root: Path) -> Iterator[PromptItem]:
    for record in _read_jsonl(root / "alpaca_eval/alpaca_eval.jsonl"):
        yield make_item("chat_en", "alpaca_eval", "holdout", "en", [_user(record["instruction"])])


def _self_instruct(root: Path) -> Iterator[PromptItem]:
    path = root / "self_instruct_user_oriented/user_oriented_instructions.jsonl"
    for record in _read_jsonl(path):
        for instance in record.get("instances", [])[:1]:
            text = _instruction_with_input(record["instruction"], instance.get("input", ""))
            yield make_item("chat_en", "self_instruct", "dev", "en", [_user(text)])


def _alpaca_seed(root: Path) -> Iterator[PromptItem]:
    for record in _read_jsonl(root / "alpaca_seed_tasks/seed_tasks.jsonl"):
        for instance in record.get("instances", [])[:1]:
            text = _instruction_with_input(record["instruction"], instance.get("input", ""))
            yield make_item("chat_en", "alpaca_seed", "holdout", "en", [_user(text)])


def _alpaca_demo(
    root: Path, folder: str, name: str, kind: str, split: str, lang: str
) -> Iterator[PromptItem]:
    for record in _read_json(root / folder / name):
        text = _instruction_with_input(record["instruction"], record.get("input", ""))
        yield make_item(kind, folder, split, lang, [_user(text)], answer=record.get("output"))


def _fastchat_questions(root: Path, folder: str, split: str) -> Iterator[PromptItem]:
    for record in _read_jsonl(root / folder / "question.jsonl"):
        messages: list[Message] = []
        for turn in record["turns"]:
            if messages:
                messages.append({"role": "assistant", "content": "(previous answer)"})
            messages.append(_user(turn))
        yield make_item("chat_en", folder, split, "en", messages)


def _arena_hard(root: Path) -> Iterator[PromptItem]:
    for record in _read_jsonl(root / "arena_hard_v0.1/question.jsonl"):
        yield make_item(
            "hard_instruct", "arena_hard_v0.1", "holdout", "en", [_user(record["prompt"])]
        )
    for record in _read_jsonl(root / "arena_hard_v2.0/question.jsonl"):
        sub = record.get("subcategory", "")
        kind = {"coding": "code", "math": "math"}.get(sub, "hard_instruct")
        yield make_item(kind, "arena_hard_v2.0", "dev", "en", [_user(record["prompt"])])


def _wildchat_ru(root: Path) -> Iterator[PromptItem]:
    for index, record in enumerate(_read_json(root / "wildchat_hard_ru/wildchat_hard_ru.json")):
        split = "dev" if index % 3 else "holdout"
        yield make_item("chat_ru", "wildchat_hard_ru", split, "ru", [_user(record["instruction"])])


def _belle(root: Path) -> Iterator[PromptItem]:
    for record in _read_json(root / "belle_eval_set/eval_set.json"):
        yield make_item(
            "chat_zh",
            "belle_eval_set",
            "dev",
            "zh",
            [_user(record["question"])],
            answer=record.get("std_answer"),
        )
    for record in _read_json(root / "belle_zh_seed_tasks/zh_seed_tasks.json"):
        for instance in record.get("instances", [])[:1]:
            text = _instruction_with_input(record["instruction"], instance.get("input", ""))
            yield make_item("chat_zh", "belle_zh_seed_tasks", "holdout", "zh", [_user(text)])


def _firefly(root: Path) -> Iterator[PromptItem]:
    for record in _read_jsonl(root / "firefly_dummy/dummy_data.jsonl"):
        messages: list[Message] = []
        for turn in record["conversation"]:
            messages.append(_user(turn["human"]))
            messages.append({"role": "assistant", "content": turn["assistant"]})
        yield make_item("chat_zh", "firefly", "holdout", "zh", messages)


def _gsm8k(root: Path) -> Iterator[PromptItem]:
    for name in ("train.jsonl", "test.jsonl"):
        for record in _read_jsonl(root / "gsm8k" / name):
            answer = record["answer"].rsplit("####", 1)[-1].strip()
            yield make_item(
                "math", "gsm8k", "dev", "en", [_user(record["question"])], answer=answer
            )


def _math_hendrycks(root: Path) -> Iterator[PromptItem]:
    for name in ("train.jsonl", "validation.jsonl"):
        for record in _read_jsonl(root / "math_hendrycks" / name):
            yield make_item(
                "math",
                "math_hendrycks",
                "holdout",
                "en",
                [_user(record["problem"])],
                answer=str(record.get("answer", "")),
            )


def _deepscaler(root: Path) -> Iterator[PromptItem]:
    for name in ("aime.json", "math.json"):
        for record in _read_json(root / "deepscaler_train" / name):
            yield make_item(
                "math",
                "deepscaler",
                "dev",
                "en",
                [_user(record["problem"])],
                answer=str(record.get("answer", "")),
            )


def _limr(root: Path) -> Iterator[PromptItem]:
    for record in _read_jsonl(root / "limr/limr_train.jsonl"):
        yield make_item(
            "math",
            "limr",
            "holdout",
            "en",
            [_user(record["context"])],
            answer=str(record.get("answer", "")),
        )


def _humaneval(root: Path) -> Iterator[PromptItem]:
    for record in _read_jsonl(root / "humaneval/HumanEval.jsonl.gz"):
        text = "Complete the following Python function.\n\n" + record["prompt"]
        yield make_item("code", "humaneval", "dev", "en", [_user(text)])


def _mbpp(root: Path) -> Iterator[PromptItem]:
    for record in _read_jsonl(root / "mbpp/mbpp.jsonl"):
        tests = "\n".join(record.get("test_list", [])[:3])
        yield make_item("code", "mbpp", "holdout", "en", [_user(f"{record['text']}\n{tests}")])


CODING_AGENT_SYSTEM = (
    "You are an autonomous software engineering agent working in a repository checkout. "
    "Use the tools to inspect files, run commands and edit code until the issue is resolved."
)
CODING_AGENT_TOOLS: list[dict[str, Any]] = [
    {
        "name": "bash",
        "description": "Run a shell command in the repository",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
    },
    {
        "name": "str_replace_editor",
        "description": "View, create and edit files",
        "parameters": {
            "type": "object",
            "properties": {"command": {"type": "string"}, "path": {"type": "string"}},
        },
    },
    {
        "name": "run_tests",
        "description": "Run the test suite or one test file",
        "parameters": {"type": "object", "properties": {"target": {"type": "string"}}},
    },
]


def _swe_bench(root: Path) -> Iterator[PromptItem]:
    for index, record in enumerate(_read_json(root / "swe_bench_lite/swe-bench-lite.json")):
        files = [
            line[len("diff --git a/") :].split(" ")[0]
            for line in record["patch"].splitlines()
            if line.startswith("diff --git a/")
        ] or ["setup.py"]
        issue = f"<issue>\n{record['problem_statement']}\n</issue>\nRepository: {record['repo']}"
        messages: list[Message] = [_user(issue)]
        for path in files[:4]:
            messages.append(
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_call",
                            "text": json.dumps(
                                {
                                    "name": "str_replace_editor",
                                    "arguments": {"command": "view", "path": path},
                                }
                            ),
                        },
                    ],
                }
            )
            messages.append(
                {
                    "role": "tool",
                    "content": [
                        {"type": "tool_result", "text": f"File {path} shown (lines 1-200)."},
                    ],
                }
            )
            messages.append(_user("Continue. Run the failing tests after your change."))
        split = "dev" if index % 3 else "holdout"
        yield make_item(
            "agentic_code",
            "swe_bench_lite",
            split,
            "en",
            messages,
            system=CODING_AGENT_SYSTEM,
            tools=CODING_AGENT_TOOLS,
        )


def _glaive(root: Path, folder: str, split: str, lang: str) -> Iterator[PromptItem]:
    for record in _read_json(root / folder / f"{folder}.json"):
        tools = json.loads(record["tools"]) if isinstance(record["tools"], str) else record["tools"]
        messages: list[Message] = []
        for turn in record["conversations"]:
            role, value = turn["from"], turn["value"]
            if role == "human":
                messages.append(_user(value))
            elif role == "gpt":
                messages.append({"role": "assistant", "content": value})
            elif role == "function_call":
                messages.append(
                    {"role": "assistant", "content": [{"type": "tool_call", "text": value}]}
                )
            elif role == "observation":
                messages.append(
                    {"role": "tool", "content": [{"type": "tool_result", "text": value}]}
                )
        if messages and messages[0]["role"] == "user":
            yield make_item("tool_use", folder, split, lang, messages, tools=tools or None)


def _toolbench(root: Path) -> Iterator[PromptItem]:
    for path in sorted((root / "toolbench_eval").glob("G*.json")):
        for record in _read_json(path).values():
            tools = [
                {
                    "name": tool["name"],
                    "description": tool.get("description", "")[:400],
                    "parameters": tool.get("parameters", {}),
                }
                for tool in record.get("available_tools", [])[:8]
            ]
            yield make_item(
                "tool_use", "toolbench", "dev", "en", [_user(record["query"])], tools=tools
            )


def _tau2(root: Path) -> Iterator[PromptItem]:
    for path in sorted((root / "tau2_bench_tasks").glob("*/task*.json")):
        domain = path.parent.name
        for record in _read_json(path):
            instructions = (record.get("user_scenario") or {}).get("instructions") or {}
            if isinstance(instructions, str):
                reason = instructions
            else:
                reason = (
                    instructions.get("reason_for_call")
                    or instructions.get("task_instructions")
                    or ""
                )
            if reason:
                tools = [
                    {"name": f"{domain}_lookup", "description": f"Look up {domain} records"},
                    {"name": f"{domain}_update", "description": f"Change {domain} records"},
                ]
                yield make_item(
                    "tool_use", f"tau2_{domain}", "holdout", "en", [_user(reason)], tools=tools
                )


def _reason_tool_use(root: Path) -> Iterator[PromptItem]:
    for record in _read_jsonl(root / "reason_tool_use_demo_50/reason_tool_use_demo_50.jsonl"):
        system = None
        messages: list[Message] = []
        for message in record["messages"]:
            text = "\n".join(
                p.get("value", "") for p in message["content"] if p.get("type") == "text"
            )
            if message["role"] == "system":
                system = text
            elif message["role"] == "user" and text:
                messages.append(_user(text))
        tools = record.get("tools")
        if isinstance(tools, str):
            tools = json.loads(tools)
        if messages:
            yield make_item(
                "tool_use",
                "reason_tool_use",
                "dev",
                "en",
                messages,
                system=system,
                tools=tools or None,
            )


def _prometheus(root: Path) -> Iterator[PromptItem]:
    folder = root / "prometheus_grading"
    for name in ("mt_bench_eval.json", "vicuna_eval.json"):
        for record in _read_json(folder / name):
            yield make_item("grading", "prometheus", "dev", "en", [_user(record["instruction"])])
    for record in _read_json(folder / "hhh_alignment_eval.json"):
        yield make_item(
            "grading", "prometheus_hhh", "holdout", "en", [_user(record["chosen_instruction"])]
        )
    for record in _read_json(folder / "autoj_pairwise.json"):
        text = (
            f"{record['prompt']}\n\n[Response 1]\n{record['response 1']}\n\n"
            f"[Response 2]\n{record['response 2']}\n\n"
            "Which response is better? Explain, then answer 1 or 2."
        )
        yield make_item("grading", "autoj_pairwise", "holdout", "en", [_user(text)])


def _judge_prompts(root: Path) -> Iterator[PromptItem]:
    questions = [
        record["turns"][0] for record in _read_jsonl(root / "mt_bench_questions/question.jsonl")
    ]
    for record in _read_jsonl(root / "mt_bench_judge_prompts/judge_prompts.jsonl"):
        template = record["prompt_template"]
        for question in questions[:40]:
            values = {
                "question": question,
                "question_1": question,
                "question_2": question,
                "answer": "(model answer)",
                "answer_a": "(answer A)",
                "answer_b": "(answer B)",
                "answer_1": "(answer 1)",
                "answer_2": "(answer 2)",
                "answer_a_1": "(answer A)",
                "answer_a_2": "(answer A)",
                "answer_b_1": "(answer B)",
                "answer_b_2": "(answer B)",
                "ref_answer_1": "(reference)",
                "ref_answer_2": "(reference)",
            }
            try:
                text = template.format(**values)
            except (KeyError, IndexError, ValueError):
                continue
            yield make_item(
                "grading",
                "mt_bench_judge",
                "dev",
                "en",
                [_user(text)],
                system=record.get("system_prompt"),
            )


def _belle_judge(root: Path) -> Iterator[PromptItem]:
    questions = _read_json(root / "belle_eval_set/eval_set.json")
    for judge in _read_json(root / "belle_eval_prompt/eval_prompt.json"):
        for record in questions[:60]:
            text = (
                f"{judge['prompt']}\n\n问题: {record['question']}\n标准答案: "
                f"{record.get('std_answer', '')}\n模型回答: (待评分回答)"
            )
            yield make_item("grading", "belle_eval_prompt", "holdout", "zh", [_user(text)])


def _exam_zh(root: Path, folder: str, split: str) -> Iterator[PromptItem]:
    with zipfile.ZipFile(root / folder / f"{folder}.zip") as archive:
        for name in sorted(archive.namelist()):
            if not name.endswith(".csv") or "/test/" in f"/{name}":
                continue
            with archive.open(name) as raw:
                for row in csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8")):
                    question = row.get("question") or row.get("Question") or ""
                    options = "\n".join(f"{k}. {row.get(k, '')}" for k in "ABCD")
                    answer = row.get("answer") or row.get("Answer")
                    yield make_item(
                        "exam_zh",
                        folder,
                        split,
                        "zh",
                        [_user(f"{question}\n{options}")],
                        answer=answer,
                    )


def _wizardlm(root: Path) -> Iterator[PromptItem]:
    for record in _read_jsonl(root / "wizardlm_testset/WizardLM_testset.jsonl"):
        yield make_item(
            "hard_instruct", "wizardlm", "holdout", "en", [_user(record["Instruction"])]
        )


Extractor = Callable[[Path], Iterator[PromptItem]]

EXTRACTORS: dict[str, Extractor] = {
    "sharegpt_v3_part1": _sharegpt,
    "oasst_eval_samples": _oasst,
    "hh_rlhf_harmless_base_test": _hh_rlhf,
    "alpaca_eval": _alpaca_eval,
    "self_instruct_user_oriented": _self_instruct,
    "alpaca_seed_tasks": _alpaca_seed,
    "llamafactory_alpaca_en_demo": lambda r: _alpaca_demo(
        r, "llamafactory_alpaca_en_demo", "alpaca_en_demo.json", "chat_en", "dev", "en"
    ),
    "llamafactory_alpaca_zh_demo": lambda r: _alpaca_demo(
        r, "llamafactory_alpaca_zh_demo", "alpaca_zh_demo.json", "chat_zh", "dev", "zh"
    ),
    "mt_bench_questions": lambda r: _fastchat_questions(r, "mt_bench_questions", "dev"),
    "vicuna_bench_questions": lambda r: _fastchat_questions(r, "vicuna_bench_questions", "holdout"),
    "arena_hard": _arena_hard,
    "wildchat_hard_ru": _wildchat_ru,
    "belle": _belle,
    "firefly_dummy": _firefly,
    "gsm8k": _gsm8k,
    "math_hendrycks": _math_hendrycks,
    "deepscaler_train": _deepscaler,
    "limr": _limr,
    "humaneval": _humaneval,
    "mbpp": _mbpp,
    "swe_bench_lite": _swe_bench,
    "glaive_toolcall_en_demo": lambda r: _glaive(r, "glaive_toolcall_en_demo", "dev", "en"),
    "glaive_toolcall_zh_demo": lambda r: _glaive(r, "glaive_toolcall_zh_demo", "holdout", "zh"),
    "toolbench_eval": _toolbench,
    "tau2_bench_tasks": _tau2,
    "reason_tool_use_demo_50": _reason_tool_use,
    "prometheus_grading": _prometheus,
    "mt_bench_judge_prompts": _judge_prompts,
    "belle_eval_prompt": _belle_judge,
    "ceval": lambda r: _exam_zh(r, "ceval", "dev"),
    "cmmlu": lambda r: _exam_zh(r, "cmmlu", "holdout"),
    "wizardlm_testset": _wizardlm,
}

PERMISSIVE_FOR_SAMPLE = (
    "sharegpt_v3_part1",
    "oasst_eval_samples",
    "hh_rlhf_harmless_base_test",
    "self_instruct_user_oriented",
    "mt_bench_questions",
    "vicuna_bench_questions",
    "arena_hard",
    "belle",
    "gsm8k",
    "deepscaler_train",
    "humaneval",
    "glaive_toolcall_en_demo",
    "glaive_toolcall_zh_demo",
    "toolbench_eval",
    "tau2_bench_tasks",
    "reason_tool_use_demo_50",
    "prometheus_grading",
    "mt_bench_judge_prompts",
    "belle_eval_prompt",
)
"""Collections whose licences (Apache-2.0, MIT, ODC-By) allow shipping a sample in the package."""


def load_datasets(root: Path, names: tuple[str, ...] | None = None) -> list[PromptItem]:
    """Read every known collection under ``root`` (a ``shared/datasets`` folder)."""
    if not root.is_dir():
        raise UserError(
            f"prompt datasets folder {root} does not exist; pass --datasets DIR pointing at a "
            "folder laid out like shared/datasets, or leave it out to use the bundled sample"
        )
    items: list[PromptItem] = []
    for name in names or tuple(EXTRACTORS):
        try:
            items.extend(EXTRACTORS[name](root))
        except FileNotFoundError as missing:
            raise UserError(
                f"collection {name!r} is incomplete under {root}: {missing.filename} is missing"
            ) from missing
    return items


def load_bundled_sample() -> list[PromptItem]:
    """Read the permissively licensed sample shipped in the package."""
    resource = resources.files("distillguard.sim").joinpath("data", SAMPLE_RESOURCE)
    with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as handle:
        return [PromptItem.from_json(json.loads(line)) for line in handle if line.strip()]
