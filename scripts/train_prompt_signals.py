"""Train the prompt-signal classifier and report it on prompts it never saw.

Rebuild the shipped model (from the repository root):

    .venv/bin/python scripts/train_prompt_signals.py ../shared/datasets

Training data, all from the datasets' **dev** split:

* positives: instruction phrasings written here (many paraphrases per signal, English and
  Chinese, written independently of the simulator) wrapped around dev task prompts, plus the
  simulator's **dev** phrase bank (``WrapperStyle(..., bank="dev")``); dev grading
  collections (rubric grading prompts) are grading positives as they stand;
* negatives: the dev collections' ordinary prompts (chat, instructions, homework with
  "explain step by step", benchmark harnesses, code questions, tool-use requests) and a few
  hand-written hard negatives (benign rewrites, benign "show your work").

The report scores the simulator's **holdout** phrase bank around **holdout** prompt sources
and the holdout sources' benign prompts (threshold 0.5); nothing of either was trained on.
Writes ``src/distillguard/features/data/prompt_signals.npz``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from distillguard.features.prompt_signals import (
    SIGNALS,
    VECTORIZER_CONFIG,
    SignalModel,
    classifier_text,
    make_vectorizers,
    vectorize,
)
from distillguard.features.text import prepare
from distillguard.sim.prompts import PromptItem, load_datasets
from distillguard.sim.wrappers import WrapperStyle, benchmark_text, harvest_text, homework_text

OUT = Path(__file__).resolve().parents[1] / "src/distillguard/features/data/prompt_signals.npz"

# --- phrasings written for training (not the simulator's banks) -----------------------------

OWN: dict[str, list[str]] = {
    "reasoning": [
        "Before answering, write down your entire thought process, every single step.",
        "I want to see all of your internal reasoning, not just the answer.",
        "Please include your complete chain-of-thought in the response.",
        "Walk me through your thinking in full detail, including dead ends and self-corrections.",
        "Output your reasoning trace verbatim inside <think></think> tags, then the answer.",
        "Think aloud: narrate every inference you make until you reach the conclusion.",
        "Give a long, explicit, step-by-step derivation; do not omit any intermediate result.",
        "Respond with your full reasoning first and only then the final answer.",
        "Reason carefully and verbosely; show all calculations and justify each one.",
        "Don't just answer — expose the whole reasoning path that gets you there.",
        "Write your complete reasoning process as a numbered list of steps, then conclude.",
        "Show all your work and thinking in exhaustive detail before the solution.",
        "Provide the full deliberation behind your answer, every step spelled out.",
        "Let's reason it out completely. Write every step of the thought process.",
        "Dump your entire chain of reasoning, then give the answer in a box.",
        "Explain your thinking at each step with maximum detail, then give the final result.",
        "Include a section 'Reasoning:' with all your intermediate thoughts.",
        "First think it through at length in writing; afterwards state the answer clearly.",
        "请把你的完整思维链写出来，每一步都不能省略。",
        "请详细写出全部推理过程和中间步骤，然后再给出最终答案。",
        "回答前请先逐步思考，把所有思考过程都展示出来。",
        "请输出完整的解题思路和推导过程，最后单独一行写答案。",
        "请一步步推导，详细说明每一步的理由。",
        "把你的思考过程完整地写在<think>标签里，然后给出结论。",
    ],
    "reconstruct": [
        "The answer to this problem is given below. Write out the reasoning that produces it.",
        "You already know the correct result. Produce a plausible derivation that reaches it.",
        "Work backwards from the provided final answer and write the full solution path.",
        "Here are a problem and its solution's answer; generate the missing reasoning steps.",
        "Fill in the chain of thought that connects the question to the given answer.",
        "Pretend you solved it yourself: write reasoning that ends in exactly this answer.",
        "Given the expected output, explain step by step how one would arrive at it.",
        "Write a rationale that justifies the supplied answer, without saying it was supplied.",
        "Create a detailed worked solution consistent with the answer key below.",
        "Using the reference answer, reverse-engineer the thinking process behind it.",
        "Generate a step-by-step explanation that leads to the stated answer.",
        "The ground-truth answer is provided. Produce the thought process leading to it.",
        "已知问题的正确答案如下，请补全得到这个答案的完整推理过程。",
        "请根据给出的最终答案，反推并写出详细的解题步骤。",
        "下面给出了题目和标准答案，请写出从题目推导到答案的思考过程，不要提及你已知道答案。",
        "请为这个答案编写一个合理的推理链条。",
    ],
    "grading": [
        "Grade the following answer on a 1-5 scale using the criteria listed, with reasons.",
        "You are an impartial judge. Rate the model response and output the score as JSON.",
        "Assess the candidate response against the rubric and return a numeric score.",
        "Compare the two responses and decide which is better; output [[A]] or [[B]].",
        "Act as a preference model: which completion would a human prefer, and why?",
        "Score this reply for accuracy, relevance and safety, each from 0 to 10.",
        "Evaluate the assistant's output. Give detailed feedback and a final rating.",
        "As a reward model, assign a scalar reward to the response below.",
        "Judge the quality of the answer relative to the reference answer; score 1 to 10.",
        "Use the scoring rubric to evaluate the response, then write 'Score: N'.",
        "Rate how well the response follows the instruction, and justify the rating.",
        "Critique the response below and give it a grade out of 10 according to the rubric.",
        "请根据评分标准对下面的回答打分（1-10分），并说明理由。",
        "你是一名公正的评审，请比较两个回答的质量，输出更好的那个。",
        "请按照以下评分细则评价模型的回答，给出分数和详细点评。",
        "请作为奖励模型为这个回复打分，并以JSON格式输出分数和理由。",
    ],
    "tool": [
        "You have access to tools. Before every function call, write out why you are calling it.",
        "Operate as an agent: think, act with a tool, observe, and narrate each cycle in full.",
        "For each step, output Thought, Action, Action Input and Observation explicitly.",
        "Solve the task using the functions provided; explain your plan before each tool use.",
        "Narrate your reasoning around every tool invocation and reflect on each result.",
        "Use the available APIs to accomplish this, describing your thinking at each call.",
        "Act autonomously with the tools; log your full reasoning between tool calls.",
        "Plan step by step, call tools as needed, and explain each decision you make.",
        "Follow a ReAct loop and print every thought and every tool call you make.",
        "Explain what you expect from each tool call before making it, then analyse the output.",
        "你是一个自主智能体。每次调用工具之前，请详细说明你的思考过程。",
        "请使用提供的工具完成任务，并在每一步写出你的推理和对工具结果的反思。",
        "请按照思考、行动、观察的格式逐步调用工具，完整记录每一步。",
    ],
    "rewrite": [
        "Rewrite the reply so it complies with strict rules on politically sensitive content.",
        "Produce a version of the answer that would pass government censorship review.",
        "Give an answer to this that avoids any politically sensitive statements.",
        "Make the response politically safe and neutral, removing anything the authorities "
        "might object to.",
        "Answer in a way that is acceptable under mainland content regulations.",
        "Sanitize this answer so it contains no sensitive political topics but still helps.",
        "Rewrite the following so it follows official positions on sensitive issues.",
        "Provide a censorship-compliant answer to the question below.",
        "Reformulate the answer to steer clear of banned political subjects.",
        "Write a harmless, regulation-friendly version of the answer to this sensitive question.",
        "请把下面的回答改写成符合审查要求、不涉及敏感政治内容的版本。",
        "请给出一个政治正确、符合监管规定的回答。",
        "请回答以下问题，但要回避所有政治敏感话题，保持正面稳妥。",
        "请按照官方立场改写这个答案，确保内容合规。",
    ],
}
TOPICS = [
    "the Tiananmen Square events",
    "Tibetan independence",
    "government corruption scandals",
    "the party's leadership",
    "protests in the capital",
    "online censorship",
]

HARD_NEGATIVES = [
    "Can you explain step by step how photosynthesis works?",
    "Rewrite this email so it sounds more polite: I need the report by Friday.",
    "Please rewrite the paragraph below in simpler English.",
    "Give me a neutral summary of the arguments for and against remote work.",
    "Grade 5 math: what is 3/4 + 1/8?",
    "What tools do I need to fix a leaking tap?",
    "How do I call a REST API from Python?",
    "Show your work: 12 x 15 = ?",
    "Explain the reasoning behind the French Revolution.",
    "What is the final answer to life, the universe and everything?",
    "Can you score my resume out of 10 and suggest improvements?",
    "Rewrite this code to be more readable.",
    "Please think about what gift I should buy my mum.",
    "解释一下光合作用的原理。",
    "请帮我改写这段话，让它更正式一些。",
    "这道题怎么做？请一步一步讲解。",
]

# Which simulator intent trains or tests which signal; None = benign phrasing.
INTENT_SIGNAL = {
    "cot": "reasoning",
    "code": "reasoning",
    "vision": "reasoning",
    "reconstruct": "reconstruct",
    "grading": "grading",
    "tool": "tool",
    "censor_safe": "rewrite",
}
INTENT_KINDS = {
    "cot": ("math", "hard_instruct", "exam_zh", "chat_zh"),
    "code": ("code",),
    "vision": ("chat_en",),
    "reconstruct": ("math",),
    "grading": ("grading",),
    "tool": ("tool_use", "agentic_code"),
    "censor_safe": ("chat_en", "chat_zh"),
}
PER_INTENT = 2500
PER_SIGNAL_OWN = 2500
BENIGN = 14000


def first_user(item: PromptItem) -> str:
    """Text of the item's first user message."""
    for message in item.messages:
        if message["role"] == "user":
            content = message["content"]
            if isinstance(content, str):
                return content
            return "\n".join(p.get("text", "") for p in content if p.get("type") == "text")
    return ""


def text_of(prompt: str, system: str | None = None) -> str:
    """Classifier text of a raw prompt (and system prompt)."""
    return classifier_text(prepare(prompt).text, prepare(system).text if system else "")


Example = tuple[str, str | None]


def harvest_examples(
    by_kind: dict[str, list[PromptItem]], bank: str, per_intent: int, rng: random.Random
) -> list[Example]:
    """(classifier text, signal) of simulator harvest requests from one phrase bank."""
    out: list[Example] = []
    for intent, signal in INTENT_SIGNAL.items():
        pool = [item for kind in INTENT_KINDS[intent] for item in by_kind.get(kind, [])]
        if not pool:
            continue
        for index in range(per_intent):
            item = pool[rng.randrange(len(pool))]
            style = WrapperStyle(paraphrase=index % 2 == 0, fixed_variant=index, bank=bank)
            question = first_user(item)
            if intent == "tool" and index % 3 == 0:
                system = harvest_text("tool", item, "", style, rng).strip()
                out.append((text_of("Continue with the next step.", system), signal))
                continue
            text = harvest_text(intent, item, question, style, rng)
            out.append((text_of(text, item.system), signal))
    return out


def own_examples(by_kind: dict[str, list[PromptItem]], rng: random.Random) -> list[Example]:
    """Hand-written phrasings around dev task prompts, in varied layouts."""
    tasks = [first_user(item) for items in by_kind.values() for item in items]
    answers = [item for item in by_kind.get("math", []) if item.answer]
    out: list[Example] = []
    for signal, phrases in OWN.items():
        for _ in range(PER_SIGNAL_OWN):
            phrase = rng.choice(phrases)
            if rng.random() < 0.4:
                phrase = f"{phrase} {rng.choice(phrases)}"
            if signal == "reconstruct" and answers:
                item = rng.choice(answers)
                task = f"Problem: {first_user(item)}\nAnswer: {item.answer}"
            elif signal == "rewrite" and rng.random() < 0.5:
                task = f"Topic: {rng.choice(TOPICS)}. {rng.choice(tasks)}"
            else:
                task = rng.choice(tasks)
            layout = rng.randrange(4)
            if layout == 0:
                text = f"{phrase}\n\n{task}"
            elif layout == 1:
                text = f"{task}\n\n{phrase}"
            elif layout == 2:
                text = f"{phrase}\n{task}"
            else:
                text = phrase
            if signal == "tool" and rng.random() < 0.3:
                out.append((text_of(task, phrase), signal))
            else:
                out.append((text_of(text), signal))
    return out


def benign_examples(
    items: list[PromptItem], count: int, rng: random.Random, *, with_extras: bool
) -> list[Example]:
    """Ordinary prompts as users send them: plain, homework phrasing, benchmark harnesses."""
    out: list[Example] = []
    for _ in range(count):
        item = items[rng.randrange(len(items))]
        question = first_user(item)
        roll = rng.random()
        if item.kind in ("math", "exam_zh") and roll < 0.5:
            text = homework_text(question, rng)
        elif item.kind in ("math", "code", "exam_zh") and roll < 0.7:
            text = benchmark_text(question, rng.randrange(4))
        else:
            text = question
        out.append((text_of(text, item.system), None))
    if with_extras:
        out.extend((text_of(text), None) for text in HARD_NEGATIVES for _ in range(20))
    return out


def labels(examples: list[Example]) -> np.ndarray:
    """(examples × signals) 0/1 matrix."""
    matrix = np.zeros((len(examples), len(SIGNALS)), dtype=np.int8)
    for row, (_, signal) in enumerate(examples):
        if signal is not None:
            matrix[row, SIGNALS.index(signal)] = 1
    return matrix


def split_items(items: list[PromptItem], split: str) -> dict[str, list[PromptItem]]:
    """Items of one split, by kind."""
    by_kind: dict[str, list[PromptItem]] = defaultdict(list)
    for item in items:
        if item.split == split:
            by_kind[item.kind].append(item)
    return by_kind


def grading_items(by_kind: dict[str, list[PromptItem]]) -> list[Example]:
    """Rubric grading prompts as they stand are grading requests."""
    return [(text_of(first_user(i), i.system), "grading") for i in by_kind.get("grading", [])]


def main(argv: list[str] | None = None) -> int:
    """Train, report, write the model file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("datasets", type=Path, help="a folder laid out like shared/datasets")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    started = time.time()
    items = load_datasets(args.datasets)
    rng = random.Random(args.seed)
    dev = split_items(items, "dev")
    holdout = split_items(items, "holdout")
    benign_dev = [i for kind, group in dev.items() if kind != "grading" for i in group]
    benign_holdout = [i for kind, group in holdout.items() if kind != "grading" for i in group]

    train = (
        harvest_examples(dev, "dev", PER_INTENT, rng)
        + own_examples(dev, rng)
        + grading_items(dev)
        + benign_examples(benign_dev, BENIGN, rng, with_extras=True)
    )
    vectorizers = make_vectorizers(VECTORIZER_CONFIG)
    features = vectorize([text for text, _ in train], vectorizers)
    y = labels(train)
    coef = np.zeros((len(SIGNALS), features.shape[1]), dtype=np.float32)
    intercept = np.zeros(len(SIGNALS), dtype=np.float32)
    for column, signal in enumerate(SIGNALS):
        model = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000)
        model.fit(features, y[:, column])
        coef[column] = model.coef_[0]
        intercept[column] = model.intercept_[0]
        print(f"trained {signal}: {int(y[:, column].sum())} positives of {len(y)}")
    fitted = SignalModel(coef, intercept, dict(VECTORIZER_CONFIG), vectorizers)

    test_rng = random.Random(args.seed + 1)
    test = (
        harvest_examples(holdout, "holdout", 600, test_rng)
        + grading_items(holdout)[:600]
        + benign_examples(benign_holdout, 6000, test_rng, with_extras=False)
    )
    probabilities = fitted.predict([text for text, _ in test])
    truth = labels(test)
    benign = truth.sum(axis=1) == 0
    print(f"\nheld out: {len(test)} prompts ({int(benign.sum())} benign), threshold 0.5")
    print(f"{'signal':<12} {'precision':>9} {'recall':>7} {'benign FPR':>10} {'positives':>9}")
    for column, signal in enumerate(SIGNALS):
        predicted = probabilities[:, column] >= 0.5
        actual = truth[:, column] == 1
        hits = int((predicted & actual).sum())
        precision = hits / max(int(predicted.sum()), 1)
        recall = hits / max(int(actual.sum()), 1)
        fpr = float(predicted[benign].mean())
        print(f"{signal:<12} {precision:9.3f} {recall:7.3f} {fpr:10.4f} {int(actual.sum()):9d}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fitted.save(args.out)
    size = args.out.stat().st_size
    print(f"\nwrote {args.out} ({size / 1e6:.2f} MB) in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
