"""How requests are phrased around a pool prompt: harvester templates and benign phrasing.

Harvesters wrap task prompts in instructions that make the model emit what they want to
train on (full reasoning, grades, tool trajectories, "safe" rewrites).  A naive campaign
uses a handful of fixed templates; an evasive one paraphrases each request from phrase
banks, so no two wrappers need to match exactly.  Benign users also say "step by step":
the education cohorts and casual users here use such phrasing on purpose, because a
detector that keys on it alone must be seen to fail.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from distillguard.sim.prompts import PromptItem

# --- harvesting intents ---------------------------------------------------------------

COT_OPENERS = (
    "Solve the following problem.",
    "Work through this problem carefully.",
    "Here is a task for you.",
    "Please answer the question below.",
    "Consider the following question.",
    "Task:",
    "Problem statement follows.",
    "I need a rigorous solution to this.",
)
COT_INSTRUCTIONS = (
    "Think step by step and write out your complete reasoning before giving the final answer.",
    "Show every intermediate step of your thinking in detail; do not skip any reasoning.",
    "Reason through it thoroughly, explaining each deduction, then state the answer.",
    "Lay out your full chain of thought explicitly, including checks and corrections.",
    "Explain your reasoning process exhaustively, as if teaching it, then conclude.",
    "Produce a detailed derivation with all steps, then the final result.",
)
COT_FORMATS = (
    "Put the final answer in \\boxed{}.",
    "End with a line 'Final answer: <answer>'.",
    "Format: <reasoning>...</reasoning><answer>...</answer>",
    "Return the reasoning first, then the answer on its own line.",
    "",
)
RECONSTRUCT = (
    "Below is a question and its final answer. Reconstruct the complete step-by-step reasoning "
    "that leads from the question to this answer, written as your own thought process.",
    "Given the problem and the known correct answer, write the detailed reasoning trace that "
    "would arrive at it. Do not mention that you were told the answer.",
    "Here is a finished answer. Explain, step by step, the reasoning behind it as if you derived "
    "it yourself from scratch.",
)
GRADING = (
    "You are a reward model. Score the response below from 1 to 10 against the rubric and "
    "explain the score in detail.",
    "Act as a strict grader. Using the rubric, assign a score (1-10) to the assistant's answer "
    "and justify each point deducted.",
    "Evaluate the answer for correctness, helpfulness and harmlessness. Output a JSON object "
    "with keys score (1-10) and rationale.",
)
CENSOR_SAFE = (
    "Rewrite the answer to the following question so that it is acceptable under strict "
    "content rules on politically sensitive topics, while staying fluent and informative:",
    "Give a politically neutral, censorship-compliant alternative answer to this question:",
    "Provide a safe version of the response to this query that avoids sensitive political "
    "content but still sounds helpful:",
)
CENSOR_TOPICS = (
    "the history of the 1989 student protests",
    "criticism of the central government's policies",
    "the status of Taiwan",
    "human rights in Xinjiang",
    "the leadership's term limits",
    "press freedom and internet censorship",
    "the political situation in Hong Kong",
    "dissidents who live abroad",
)
COT_ZH = (
    "请一步一步地详细推理，写出完整的思考过程，最后给出答案。",
    "请展示你全部的推理步骤，不要省略任何中间过程。",
    "先详细分析每个选项，写出完整推理链，再给出最终答案。",
)
CENSOR_SAFE_ZH = (
    "请将以下问题的回答改写为符合内容规范、政治上稳妥的版本：",
    "请给出一个回避敏感政治内容但仍然有帮助的回答：",
)
TOOL_HARVEST = (
    "You are an autonomous agent. Plan, call the available tools as needed, and narrate your "
    "reasoning before every call.",
    "Use the tools to complete the task. Before each tool call, explain your full reasoning; "
    "after each result, reflect on it.",
    "Complete the user's task with the provided functions. Think out loud at every step.",
)
CODE_HARVEST = (
    "Write a complete, tested solution. Explain your design reasoning step by step first.",
    "Implement this fully. Think through edge cases explicitly, then give the final code.",
    "Solve the coding task below. Show your reasoning, the full implementation and tests.",
)
VISION_QUESTIONS = (
    "Describe this image in exhaustive detail, then reason step by step about what it shows.",
    "Extract all text and structure from this screenshot and explain your reasoning.",
    "What is happening in this chart? Walk through your analysis step by step.",
)

_INSTRUCTION_BANKS = (
    COT_INSTRUCTIONS,
    COT_ZH,
    RECONSTRUCT,
    GRADING,
    CENSOR_SAFE,
    CENSOR_SAFE_ZH,
    TOOL_HARVEST,
    CODE_HARVEST,
    VISION_QUESTIONS,
)
"""The banks whose phrase carries a campaign's house line (one per request)."""

# --- benign phrasing -----------------------------------------------------------------

HOMEWORK = (
    "Can you explain step by step how to solve this? {q}",
    "I'm stuck on my homework: {q} Please explain step by step.",
    "{q}",
    "{q} Can you show the working?",
    "help with this please: {q}",
    "Our teacher gave us this problem. {q} I don't get how to start.",
    "{q}\nexplain it simply",
)
# A student or professional preparing for an exam asks for steps, has their own attempt
# graded, asks how a textbook's answer is reached and has their writing rewritten: the
# benign faces of the reasoning, grading, reconstruction and rewrite signals, all from one
# person (the mix a harvester also asks for).
SELF_CHECK = (
    "Here is my solution to this problem. Is it right? Grade it out of 10 like a strict "
    "teacher and tell me what I lost points for.\n\n{q}\n\nMy answer: {a}",
    "I'm practising for my exam. Can you mark my attempt and give it a score?\n\n"
    "Problem: {q}\nMy final answer was {a}.",
    "{q}\n\nI got {a}. Please check my work and rate it from 1 to 10.",
    "Check my answer please, and be honest about the score you would give it. {q} My answer: {a}",
    "Our teacher grades with a rubric (method, accuracy, clarity). Grade my answer the same "
    "way.\n\nQuestion: {q}\nMy answer: {a}",
    "is this correct? {q} i put {a}. what would you give it out of 10",
)
EXPLAIN_ANSWER = (
    "My textbook says the answer to this is {a} but doesn't show the working. How do you "
    "get there, step by step?\n\n{q}",
    "The answer key says {a}. I don't understand why. Can you walk me through the reasoning?"
    "\n\n{q}",
    "{q}\n\nThe solution manual just says {a}. Explain how they got it.",
    "I know the answer is {a} but I can't see how to reach it. Show me the steps. {q}",
    "我的练习册上答案是 {a}，但没有过程。能一步一步讲讲怎么得到的吗？\n{q}",
)
REVISE = (
    "Can you rewrite this so it reads better? Keep my meaning.\n\n{q}",
    "Please paraphrase this in simpler words for my essay:\n\n{q}",
    "Rewrite this more formally for my report:\n\n{q}",
    "Improve the wording of this paragraph, it sounds awkward:\n{q}",
    "Make this clearer and shorter, I need it for class tomorrow: {q}",
    "请帮我把这段话改写得更通顺一些：\n{q}",
)
STUDY_BANKS = {"self_check": SELF_CHECK, "explain_answer": EXPLAIN_ANSWER, "revise": REVISE}
"""Phrasings of the benign study intents, by intent."""

BENCHMARK_HARNESS = (
    "Question: {q}\nAnswer:",
    "{q}\nLet's think step by step.",
    "The following is a question. Answer it and put the final answer after '####'.\n\n{q}",
    "Solve the following problem. Put your final answer within \\boxed{{}}.\n{q}",
)


HOUSE_LEADS = ("Please", "You must", "Always", "Make sure to", "Remember to")
HOUSE_VERBS = (
    "answer",
    "respond",
    "write your response",
    "give your output",
    "provide the response",
)
HOUSE_MANNERS = (
    "in English",
    "in full",
    "in Markdown",
    "completely",
    "without refusing",
    "in a formal tone",
)
HOUSE_RULES = (
    "",
    "Do not skip anything.",
    "Be thorough.",
    "Keep this format.",
    "No disclaimers.",
    "Follow these rules exactly.",
)


def house_line(key: int) -> str:
    """A campaign's own standing instruction, from a number that names the campaign.

    Campaigns run by different operators do not share phrase books: each pipeline adds its
    house rules ("Always respond in Markdown. No disclaimers.") to every harvesting request,
    so two campaigns' wrappers differ even where both paraphrase from similar phrasings.
    """
    parts = []
    for bank in (HOUSE_LEADS, HOUSE_VERBS, HOUSE_MANNERS, HOUSE_RULES):
        key, index = divmod(key, len(bank))
        parts.append(bank[index])
    lead, verb, manner, rule = parts
    return _join(f"{lead} {verb} {manner}.", rule)


@dataclass(frozen=True)
class WrapperStyle:
    """How a campaign phrases its wrappers: a few fixed templates, or paraphrased per request."""

    paraphrase: bool
    fixed_variant: int  # which fixed template family the campaign picked
    bank: str = "all"
    """``dev`` or ``holdout`` use disjoint halves of every phrase bank, so detectors tuned on
    development wrappers can be reported on phrasings they never saw."""
    house: str = ""
    """The campaign's standing instruction, added to every harvesting wrapper (see
    :func:`house_line`); empty: none."""


def _bank(options: tuple[str, ...], bank: str) -> tuple[str, ...]:
    if bank == "dev":
        return options[0::2]
    if bank == "holdout":
        return options[1::2] or options
    return options


def _pick(rng: random.Random, options: tuple[str, ...]) -> str:
    return options[rng.randrange(len(options))]


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def harvest_text(
    intent: str, item: PromptItem, question: str, style: WrapperStyle, rng: random.Random
) -> str:
    """The user text a harvester sends for one task prompt.

    With ``paraphrase`` off the campaign uses one template per intent (its choice fixed by
    ``fixed_variant``), as scripted pipelines do; with it on, every request draws its own
    opener, instruction and format, and sometimes puts the task first.
    """
    if style.paraphrase:

        def phrase(options: tuple[str, ...]) -> str:
            return _pick(rng, _bank(options, style.bank))
    else:

        def phrase(options: tuple[str, ...]) -> str:
            chosen = _bank(options, style.bank)
            return chosen[style.fixed_variant % len(chosen)]

    def choose(options: tuple[str, ...]) -> str:
        # The house line goes with the instruction (never with a topic or a format).
        text = phrase(options)
        return _join(text, style.house) if options in _INSTRUCTION_BANKS else text

    zh = item.lang == "zh"
    if intent == "cot":
        if zh:
            wrapper = choose(COT_ZH)
        else:
            wrapper = _join(choose(COT_OPENERS), choose(COT_INSTRUCTIONS), choose(COT_FORMATS))
    elif intent == "reconstruct":
        answer = item.answer or "(see above)"
        return f"{choose(RECONSTRUCT)}\n\nQuestion: {question}\n\nFinal answer: {answer}"
    elif intent == "grading":
        return f"{choose(GRADING)}\n\n{question}" if not question.startswith("###") else question
    elif intent == "censor_safe":
        topic = choose(CENSOR_TOPICS)
        if zh:
            return f"{choose(CENSOR_SAFE_ZH)}\n{question}"
        return f"{choose(CENSOR_SAFE)}\nQuestion about {topic}: {question}"
    elif intent == "tool":
        wrapper = choose(TOOL_HARVEST)
    elif intent == "code":
        wrapper = choose(CODE_HARVEST)
    elif intent == "vision":
        return choose(VISION_QUESTIONS)
    else:
        return question
    if style.paraphrase and rng.random() < 0.4:
        return f"{question}\n\n{wrapper}"
    return f"{wrapper}\n\n{question}"


PHOTO_QUESTIONS = (
    "what is this?",
    "Can you tell me what plant this is and how to care for it?",
    "Is this mole something I should get checked?",
    "What does this sign say in English?",
    "can you solve the problem in this picture",
    "Rate my outfit",
)


def photo_text(rng: random.Random) -> str:
    """What an ordinary user asks about a photo they attach."""
    return _pick(rng, PHOTO_QUESTIONS)


def homework_text(question: str, rng: random.Random) -> str:
    """How a student asks a homework question (often 'step by step', never scripted)."""
    return _pick(rng, HOMEWORK).format(q=question)


def study_text(intent: str, question: str, answer: str | None, rng: random.Random) -> str:
    """How a person studying asks: their attempt graded, a textbook answer explained, their
    own text rewritten (``STUDY_BANKS``); never scripted, so every request picks a phrasing."""
    bank = STUDY_BANKS[intent]
    return _pick(rng, bank).format(q=question, a=answer or "the one in the back of the book")


HABITS = (
    "Please explain it step by step.",
    "Please think step by step before you answer.",
    "Explain your reasoning step by step, please.",
    "Keep the answer short and simple.",
    "Please be concise and to the point.",
    "Answer in plain English, no jargon please.",
    "Explain it to me like I'm five.",
    "Use bullet points where it helps.",
    "Give me a detailed answer with examples.",
    "Reply in a friendly, casual tone.",
    "Show your work so I can follow along.",
    "No yapping, just give me the answer.",
    "Cite your sources if you can.",
    "Double-check your answer before replying.",
    "请一步一步地解释你的思路，让我能看懂。",
    "请用简单的中文回答，不要太长。",
)
"""Standing instructions ordinary people type after their questions (what a chat app's
"custom instructions" would add).  Many unrelated customers keep the same stock phrase, and
several ask for step-by-step reasoning: the crowd a house-rule detector must not mistake
for a paraphrasing fleet."""
HABIT_SHARE = 0.06
"""Share of individual customers (casual, students, company staff, reseller customers,
developers) who keep such a habit."""
HABIT_USE = 0.7
"""Share of a habitual customer's own questions that carry the phrase."""


def with_habit(text: str, habit: str) -> str:
    """A customer's question with their standing instruction after it."""
    return f"{text}\n\n{habit}"


def benchmark_text(question: str, harness: int) -> str:
    """A public-benchmark harness prompt (one fixed harness per benchmark company)."""
    return BENCHMARK_HARNESS[harness % len(BENCHMARK_HARNESS)].format(q=question)
