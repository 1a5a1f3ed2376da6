"""What the engine needs from a model, and nothing more: a frame encoder and an answerer, bundled as
a backend. Every backend declares all four operations (`encode`, `annotate`, `answer`, `locate`); one
that cannot annotate or locate says so through `Unannotated` and `CannotLocate`, never by leaving the
method out, so callers need no `hasattr`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from vstream_ros.answering.question import Question
from vstream_ros.memory import FlashMemoryConfig, MemoryConfig, MemoryRead, TextSighting, TokenGroup, Track

Evidence = TokenGroup          # a memory group an answer or a sighting rests on (stamps, camera, pose, label)


@dataclass(frozen=True)
class Observation:
    """What an encoder followed in one frame besides its annotation, for the memory's per-camera tables:
    the tracks seen in the frame or finished by it (each record as it now stands: the memory keeps the
    newest state per track id) and the words read in it (stamped with the frame)."""

    tracks: tuple[Track, ...] = ()
    texts: tuple[TextSighting, ...] = ()


NOTHING_OBSERVED = Observation()


@runtime_checkable
class FrameEncoder(Protocol):
    """Turns RGB frames into a patch grid of features for the memory, and says what each frame shows.

    `id` names the weights and the preprocessing: a memory snapshot is only restored into an
    encoder with the same id, since features of another encoder mean nothing to it.
    """

    id: str
    dim: int
    feature_grid: tuple[int, int]
    device: torch.device
    dtype: torch.dtype
    annotation_names: Sequence[str]      # what `annotate` gives per frame, in order; empty: nothing
    # optional, read with getattr (not a member `contract_gaps` asks for): the encoder's earlier layouts of
    # `annotation_names`, newest first, so that a snapshot written before snapshots named their columns can
    # still be moved to today's (memory/annotations.relayout picks the one of the snapshot's size)
    # annotation_history: Sequence[Sequence[str]]

    def encode(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        """uint8 [B, H, W, 3] RGB (any size) -> features [B, h, w, D] on `device`, in `dtype`."""
        ...

    def annotate(self, frames: np.ndarray, features: torch.Tensor) -> torch.Tensor | None:
        """What was recognised in each frame, [B, len(annotation_names)], computed once at ingest and
        kept with the memory; None from an encoder whose `annotation_names` is empty."""
        ...

    def observe(self, cameras: Sequence[str], stamps: Sequence[float], frames: np.ndarray) -> list[Observation]:
        """Called right after `annotate` on the same batch (its frames may be of several cameras, each
        camera's in time order): one Observation per frame, from state the encoder keeps per camera
        (a tracker, a text-reading schedule). Encoders that follow nothing inherit `Unobserved`."""
        ...

    def observed_late(self) -> list[tuple[str, Observation]]:
        """Observations finished after their frames' batch (text read on a thread of its own), by camera:
        the engine's encoder worker writes them into the memory on its next turn."""
        ...

    def observing(self) -> bool:
        """Whether work for `observed_late` is still under way (the engine's flush waits for it)."""
        ...

    def read_newest(self, camera: str) -> bool:
        """Start observing a camera's newest frame again now, for `observed_late` (a question about the text in
        view: what is on the sign now, not what was read on the schedule). True when started or not needed;
        False while other work is under way (the engine asks again once `observing` is over)."""
        ...


@runtime_checkable
class PairingEncoder(Protocol):
    """A frame encoder whose model was trained on tokens of two consecutive frames (Qwen2-VL's temporal patch).
    The engine encodes a camera's frame with the one before it, when the camera's memory keeps that one
    alone and open to pairing (MultiCameraMemory.pair_open), and the pair replaces it (pair_last)."""

    def encode_pairs(self, first: torch.Tensor | np.ndarray, second: torch.Tensor | np.ndarray) -> torch.Tensor:
        """uint8 [B, H, W, 3] twice, `second[b]` the frame after `first[b]` -> features [B, h, w, D], one
        token per pair."""
        ...


class Unannotated:
    """For encoders that recognise nothing per frame: the memory keeps no annotations."""

    annotation_names: Sequence[str] = ()

    def annotate(self, frames: np.ndarray, features: torch.Tensor) -> None:
        return None


class Unobserved:
    """For encoders that follow nothing over time and read no text: every frame observes nothing."""

    def observe(self, cameras: Sequence[str], stamps: Sequence[float], frames: np.ndarray) -> list[Observation]:
        return [NOTHING_OBSERVED] * len(frames)

    def observed_late(self) -> list[tuple[str, Observation]]:
        return []

    def observing(self) -> bool:
        return False

    def read_newest(self, camera: str) -> bool:
        return True


def contract_gaps(encoder: object) -> list[str]:
    """The FrameEncoder members an encoder lacks (empty: it keeps the contract). The engine refuses an
    encoder with gaps at once, rather than failing on every batch."""
    members = {n for n in vars(FrameEncoder) if not n.startswith("_")} | set(FrameEncoder.__annotations__)
    return sorted(n for n in members if not hasattr(encoder, n))


@dataclass
class Answer:
    """An answer being produced: iterate `pieces` for the text as it is generated.

    `evidence` is known before the first piece: the memory groups the answer rests on.
    """

    pieces: Iterator[str]
    evidence: list[Evidence]
    limitations: str = ""                # what this backend cannot see, said plainly
    stats: dict = field(default_factory=dict)   # filled while generating: tokens, ttft_s, ...

    def text(self) -> str:
        return "".join(self.pieces)


@dataclass
class Located:
    """The sightings of a thing in time order (each an Evidence with label, score and pose), or why it
    cannot be looked for (`error`)."""

    evidence: list[Evidence]
    error: str = ""


@runtime_checkable
class Answerer(Protocol):
    """Answers questions from a memory read. Subclass it to take the defaults of what the engine reads
    about the language model: `reads_visual_tokens` (False: it reads what the memory recognised, as
    text, not its features) and `rows_per_token` (memory rows a patch merger folds into one token)."""

    reads_visual_tokens: bool = True
    rows_per_token: int = 1

    def answer(self, memory: MemoryRead, question: Question, max_new_tokens: int,
               cancel: threading.Event | None = None) -> Answer:
        """Answer a parsed question from a memory read; generation stops early when `cancel` is set."""
        ...

    def locate(self, memory: MemoryRead, phrase: str, frame_interval: float,
               window: tuple[float, float] | None = None) -> Located:
        """Every sighting of a thing in the read, no language model in the path (`frame_interval`: the
        seconds between a camera's frames, what "adjacent" means)."""
        ...

    def abstract_projections(self) -> tuple[torch.nn.Module | None, torch.nn.Module | None]:
        """The q/k projections the memory's abstract update should use (None, None: identity)."""
        ...


CANNOT_LOCATE = ("this backend cannot locate objects: locate needs a backend that recognises things in each "
                 "frame (lite)")


class CannotLocate:
    """For answerers that read the memory only as tokens for a language model: nothing per frame says
    what was seen, so there are no sightings to give."""

    def locate(self, memory: MemoryRead, phrase: str, frame_interval: float,
               window: tuple[float, float] | None = None) -> Located:
        return Located([], CANNOT_LOCATE)


@dataclass
class Backend:
    """A loaded model: its encoder, its answerer and the memory sizes it was trained with. The type of
    `memory_config` chooses the memory (memory/kinds.py): STAR for a MemoryConfig, the Flash Memory for
    a FlashMemoryConfig."""

    name: str
    encoder: FrameEncoder
    answerer: Answerer
    memory_config: MemoryConfig | FlashMemoryConfig
    close: Callable[[], None] = lambda: None
    # parts of the backend that could not be loaded, each said plainly with how to get it: the node
    # reports them as WARN in /diagnostics and in ~/memory_state, so nobody runs a lesser default unaware
    degraded: list[str] = field(default_factory=list)

    def encode(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        return self.encoder.encode(frames)

    def annotate(self, frames: np.ndarray, features: torch.Tensor) -> torch.Tensor | None:
        return self.encoder.annotate(frames, features)

    def answer(self, memory: MemoryRead, question: Question, max_new_tokens: int,
               cancel: threading.Event | None = None) -> Answer:
        return self.answerer.answer(memory, question, max_new_tokens, cancel)

    def locate(self, memory: MemoryRead, phrase: str, frame_interval: float,
               window: tuple[float, float] | None = None) -> Located:
        return self.answerer.locate(memory, phrase, frame_interval, window)


__all__ = ["Answer", "Answerer", "Backend", "CANNOT_LOCATE", "CannotLocate", "Evidence", "FrameEncoder", "Located",
           "NOTHING_OBSERVED", "Observation", "Question", "Unannotated", "Unobserved",
           "contract_gaps"]
