"""One multiple-choice instruction, owned by the answering backend: the evaluation tool lists the options
and adds none; each backend adds its model's own, once."""

from vstream_ros.answering.question import Intent, parse
from vstream_ros.backends.flash_qwen.prompting import build_prompt
from vstream_ros.backends.flash_qwen.tiny import tiny_tokenizer
from vstream_ros.backends.flash_vstream.answering import CHOICE_INSTRUCTION, user_text
from vstream_ros.tools.questions import Question

ITEM = Question("q1", "Where was this filmed?", "a kitchen", None,
                options=["a playground", "a kitchen", "a beach", "an office"], correct="B")
INSTRUCTIONS = ("option's letter", "Respond with only the letter")


def test_the_evaluation_tool_lists_the_options_and_adds_no_instruction():
    asked = ITEM.prompt()
    assert asked == "Where was this filmed?\n(A) a playground\n(B) a kitchen\n(C) a beach\n(D) an office"
    assert not any(s in asked for s in INSTRUCTIONS)


def test_each_backend_adds_its_own_instruction_once():
    q = parse(ITEM.prompt())
    assert q.intent is Intent.CHOICE and len(q.options) == 4
    star = user_text(q)
    assert star.endswith("\n" + CHOICE_INSTRUCTION) and sum(star.count(s) for s in INSTRUCTIONS) == 1
    tok = tiny_tokenizer()
    prompt = build_prompt(tok, q, ["front"])
    qwen = tok.decode(prompt.pieces[2])
    assert sum(qwen.count(s) for s in INSTRUCTIONS) == 1
    assert "Respond with only the letter (A, B, C, or D) of the correct option." in qwen
