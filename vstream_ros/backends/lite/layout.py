"""Where each part of lite's per-frame annotation sits, and what a question's word stands for in it
(`Concept`): the data the recogniser (vision.py) and the naming rule (naming.py) both read."""

from __future__ import annotations

import re
from dataclasses import dataclass

from vstream_ros.answering.phrases import noun_lemma
from vstream_ros.backends.lite import colours
from vstream_ros.backends.lite.vocabulary import BOXED

N_IMAGENET, N_BOXED, N_COLOUR = 1000, len(BOXED), len(colours.NAMES)
# presence thresholds (peak over a run's frames) are fitted per source: calibration.py


# parts of a person box whose colours are kept ("what colour was his shirt"): (top, bottom) in box heights
PERSON_PARTS = {"head": (0.0, 0.18), "upper": (0.2, 0.55), "lower": (0.55, 0.88), "feet": (0.88, 1.0)}
PART_WORDS = {
    "hair": "head", "hat": "head", "cap": "head", "helmet": "head", "head": "head",
    "shirt": "upper", "t-shirt": "upper", "tshirt": "upper", "top": "upper", "jacket": "upper", "coat": "upper",
    "sweater": "upper", "jumper": "upper", "hoodie": "upper", "dress": "upper", "suit": "upper", "blouse": "upper",
    "vest": "upper", "trousers": "lower", "pants": "lower", "jeans": "lower", "shorts": "lower", "skirt": "lower",
    "legs": "lower", "leggings": "lower", "shoes": "feet", "shoe": "feet", "boots": "feet", "sneakers": "feet",
    "feet": "feet", "socks": "feet",
}


# horizontal bands of the frame (floor, walls, sky): (top, bottom) in frame heights
BANDS = {"top": (0.0, 0.3), "middle": (0.3, 0.7), "bottom": (0.7, 1.0)}


class Layout:
    """Where each part sits in the annotation vector (slices, in this order)."""

    def __init__(self) -> None:
        sizes = {"imagenet": N_IMAGENET, "coco_score": N_BOXED, "coco_count": N_BOXED,
                 "coco_colour": N_BOXED * N_COLOUR, "person_colour": len(PERSON_PARTS) * N_COLOUR,
                 "frame_colour": N_COLOUR, "band_colour": len(BANDS) * N_COLOUR,
                 # per class, each colour's largest share of one of its counted boxes ("a red car" among white
                 # ones: coco_colour holds the most confident box's colours only)
                 "any_box_colour": N_BOXED * N_COLOUR}
        at = 0
        for name, n in sizes.items():
            setattr(self, name, slice(at, at + n))
            at += n
        self.size = at

    def names(self, imagenet: list[str]) -> tuple[str, ...]:
        """Each column's name, unique (snapshots match columns by them; ImageNet names "crane" twice)."""
        return (*(f"imagenet:{i}:{n}" for i, n in enumerate(imagenet)), *(f"coco:{n}" for n in BOXED),
                *(f"count:{n}" for n in BOXED),
                *(f"colour:{n}:{c}" for n in BOXED for c in colours.NAMES),
                *(f"person_colour:{p}:{c}" for p in PERSON_PARTS for c in colours.NAMES),
                *(f"frame_colour:{c}" for c in colours.NAMES),
                *(f"band_colour:{b}:{c}" for b in BANDS for c in colours.NAMES),
                *(f"any_box_colour:{n}:{c}" for n in BOXED for c in colours.NAMES))

    def earlier(self, imagenet: list[str]) -> tuple[tuple[str, ...], ...]:
        """The layouts before this one, newest first, for snapshots written before they named their columns:
        until any_box_colour came (the twelfth session on issue #20), the same blocks without it."""
        return (tuple(n for n in self.names(imagenet) if not n.startswith("any_box_colour:")),)


LAYOUT = Layout()


@dataclass(frozen=True)
class Concept:
    """What a word (or phrase) of a question stands for in the annotations."""

    name: str                                    # as it will be said in answers ("person", "car", "swing")
    coco: tuple[int, ...] = ()
    imagenet: tuple[int, ...] = ()
    colour: str = ""                             # "red car": only where the object is red
    person: bool = False
    part: str = ""                               # of a person: head, upper, lower, feet (clothes' colours)
    region: str = ""                             # a band of the frame (top, middle, bottom): floors, skies
    countable: bool = True                       # its COCO boxes count it (not so for "taxi": every car)
    asked: str = ""                              # the words that asked for it ("T-shirt", "floor")
    needs_class: bool = False                    # a box of its COCO class is not enough ("taxi": "cab" too)
    narrower: str = ""                           # the word asked, narrower than this ("astronaut": a person)

    @property
    def colour_source(self) -> str:
        """Whose fitted bound its colour is stated from (calibration.COLOUR_SOURCES): a band of the frame's,
        a person's clothes', a thing's."""
        return "surface" if self.region else "clothes" if self.person or self.part else "colour"


def asked_thing(concepts: list[Concept], head: str, subject: str) -> Concept | None:
    """The concept whose colour a question asks. With the subject's head noun, the concept it names ("the bag of
    the woman in the white shirt": the bag, not her shirt; "the man's bow tie": the tie), or None when none does
    (an unrecognised "toy" of "the dog's toy" is not the dog). Without one, a person's clothes, else the last
    thing named after a possessive ("his car"), else the first ("the car next to the man")."""
    if head:
        lemma = noun_lemma(head)
        return next((c for c in concepts if c.asked and noun_lemma(c.asked.split()[-1]) == lemma), None)
    possessive = re.search(r"\w(?:['’]s|s['’])(?:\s|$)|\b(?:his|her|their|its|my|your|our)\s", subject,
                           re.IGNORECASE) is not None
    return next((c for c in concepts if c.part), None) or concepts[-1 if possessive else 0]
