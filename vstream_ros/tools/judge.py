"""An LLM judge for open-ended answers, run on a local model: the protocol of the paper's GPT judge
(Video-ChatGPT style: is the prediction a correct answer, yes or no, and a 0-5 score).

SmolLM2-135M (`--judge smollm2`, the only model available offline) runs the protocol but is not a judge
to trust: in our check it marked plainly wrong answers "yes, 4". Give a larger local model folder for
figures worth reporting. The report says which judge produced them.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

SYSTEM = ("You are an intelligent chatbot designed for evaluating the correctness of generative outputs for "
          "question-answer pairs. Your task is to compare the predicted answer with the correct answer and "
          "determine if they match meaningfully. Focus on meaning, not wording: synonyms and paraphrases are "
          "valid matches. Judge whether the prediction is a correct answer to the question.")
USER = ("Question: {question}\nCorrect Answer: {answer}\nPredicted Answer: {prediction}\n\n"
        "Reply only with a Python dictionary string with the keys 'pred' (the string 'yes' or 'no') and "
        "'score' (an integer from 0 to 5, 5 the best match), for example {{'pred': 'yes', 'score': 4}}.")
REPLY_PREFIX = "{'pred': '"
_PRED = re.compile(r"""['"]pred['"]\s*:\s*['"](yes|no)['"]""", re.I)
_SCORE = re.compile(r"""['"]score['"]\s*:\s*([0-5])""")


class LocalJudge:
    def __init__(self, model: str = "smollm2", device: str = "cpu") -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if model == "smollm2":
            from vstream_ros.backends.lite.backend import load_smollm2

            self.tokenizer, self.lm = load_smollm2(torch.device(device))
        else:
            path = Path(model).expanduser()
            if not path.is_dir():
                raise ValueError(f"judge model {model!r}: use 'smollm2' or a local model folder")
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.lm = AutoModelForCausalLM.from_pretrained(path).eval().to(device)
        self.name = model

    @torch.inference_mode()
    def judge(self, question: str, answer: str, prediction: str) -> dict:
        from vstream_ros.backends.shared.generation import greedy_decode

        messages = [{"role": "system", "content": SYSTEM},
                    {"role": "user", "content": USER.format(question=question, answer=answer, prediction=prediction)}]
        chat = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        # the reply is started for the model, so even a small one answers in the asked-for form
        ids = self.tokenizer(chat + REPLY_PREFIX, return_tensors="pt", add_special_tokens=False).input_ids
        embeds = self.lm.get_input_embeddings()(ids.to(self.lm.device))
        text = REPLY_PREFIX + self.tokenizer.decode(
            list(greedy_decode(self.lm, embeds, 24, self.tokenizer.eos_token_id)), skip_special_tokens=True)
        pred, score = _PRED.search(text), _SCORE.search(text)
        return {"pred": pred.group(1).lower() if pred else None, "score": int(score.group(1)) if score else None,
                "raw": text.strip()}
