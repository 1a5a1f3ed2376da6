"""Words for things: the detectors' classes (COCO's 80, hands and faces), ImageNet classes grouped under the
words people use ("car" is a cab, a jeep, a minivan ...), and the nouns that mean a person. Data, no model."""

from __future__ import annotations

from vstream_ros.answering.phrases import noun_lemma

COCO_NAMES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)
# every class a detector boxes, in the order of the annotation's slots (layout.py): COCO's 80 (NanoDet,
# detection.py), hands (the palm detector, hands.py) and faces (the face detector, faces.py)
BOXED = (*COCO_NAMES, "hand", "face")
# boxed things a description does not list: a face is said by the person it belongs to ("what did you see?": a
# person, not a person and a face); asked for, it is found ("did you see anyone's face?")
UNLISTED = frozenset({"face"})
# a boxed part seen only on its bearer: in frames where the detector's silence says the bearer was not there (a
# fitted "no", calibration.json's detector_silence), the part was not there either: no person, no face
BEARERS = {"face": "person"}

# What a word asks for: COCO classes and ImageNet class names (first lemma, as in imagenet_classes.txt).
# A word not here is looked up among the class names themselves, then by meaning (the answerer's model).
CONCEPTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "person": (("person",), ()),
    "hand": (("hand",), ()),
    "face": (("face",), ()),
    "car": (("car",), ("sports car", "cab", "convertible", "jeep", "limousine", "minivan", "Model T", "racer",
                       "beach wagon", "police van", "ambulance", "pickup", "grille", "car wheel")),
    "taxi": (("car",), ("cab",)),
    "vehicle": (("car", "bus", "truck", "motorcycle", "train"),
                ("sports car", "cab", "convertible", "jeep", "limousine", "minivan", "beach wagon", "police van",
                 "ambulance", "pickup", "school bus", "trolleybus", "minibus", "trailer truck", "garbage truck",
                 "fire engine", "tow truck", "moving van", "moped", "motor scooter", "streetcar")),
    "bus": (("bus",), ("school bus", "trolleybus", "minibus")),
    "truck": (("truck",), ("trailer truck", "garbage truck", "fire engine", "tow truck", "moving van", "pickup")),
    "van": (("car", "truck"), ("minivan", "moving van", "police van", "minibus")),
    "bicycle": (("bicycle",), ("mountain bike", "bicycle-built-for-two")),
    "motorcycle": (("motorcycle",), ("moped", "motor scooter")),
    "tram": (("train",), ("streetcar", "trolleybus")),
    "train": (("train",), ("passenger car", "bullet train", "electric locomotive", "steam locomotive", "freight car",
                           "streetcar")),
    "boat": (("boat",), ("speedboat", "canoe", "container ship", "fireboat", "lifeboat", "yawl", "catamaran",
                         "gondola")),
    "airplane": (("airplane",), ("airliner", "warplane")),
    "cat": (("cat",), ("tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat")),
    "dog": (("dog",), ()),   # and every ImageNet dog breed: filled in below from the class-index range
    "bird": (("bird",), ()),
    "phone": (("cell phone",), ("cellular telephone", "dial telephone", "pay-phone")),
    "tv": (("tv",), ("television", "monitor", "screen")),
    "computer": (("laptop", "keyboard", "mouse"), ("laptop", "desktop computer", "notebook")),
    "table": (("dining table",), ("dining table", "desk")),
    "chair": (("chair",), ("folding chair", "rocking chair", "barber chair", "throne")),
    "sofa": (("couch",), ("studio couch",)),
    "cup": (("cup",), ("coffee mug", "cup", "espresso")),
    "coffee": (("cup",), ("espresso", "coffee mug")),
    "bottle": (("bottle",), ("water bottle", "wine bottle", "beer bottle", "pop bottle", "pill bottle")),
    "ball": (("sports ball",), ("soccer ball", "tennis ball", "basketball", "volleyball", "golf ball",
                                "ping-pong ball", "rugby ball", "croquet ball")),
    "tie": (("tie",), ("bow tie", "Windsor tie")),
    "bag": (("backpack", "handbag", "suitcase"), ("backpack", "purse", "mailbag", "plastic bag")),
    "plant": (("potted plant",), ("pot", "daisy")),
    "flower": (("potted plant", "vase"), ("daisy", "pot")),
    "glasses": ((), ("sunglasses", "sunglass")),
    # the missile class only: with "projectile" beside it the group's probability is a new measure, which
    # the classifier's fitted threshold was not fitted on (the rocket photo would turn from "cannot tell"
    # to a sighting without new evidence)
    "rocket": ((), ("missile",)),
    "animal": (("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"), ()),
}
# concept words whose COCO classes are wider than the word ("taxi" -> every car): boxes do not count them
NOT_COUNTABLE = frozenset(("taxi", "van", "tram", "vehicle", "computer", "bag", "flower", "plant", "coffee",
                           "glasses", "animal"))
# concept words a COCO box alone does not show (every car box is not a taxi): the ImageNet class must
# agree; a box of the wider class lets a weaker ImageNet probability do
NARROWER_THAN_BOX = frozenset(("taxi", "van", "tram", "coffee", "flower"))
# words that group other things: never listed as a thing seen; asked, they find the narrower things
# ("vehicle" finds the car) and the answer names what was found
GENERIC = frozenset(("vehicle", "animal"))
# words narrower than anything lite can tell apart: the broader thing answers, and the answer says it
# cannot tell whether it was the narrower one ("astronaut": a person box; ImageNet has no astronaut)
NARROWER = {"astronaut": "person", "cosmonaut": "person", "firefighter": "person", "fireman": "person",
            "soldier": "person", "policeman": "person", "nurse": "person", "doctor": "person", "chef": "person",
            "sedan": "car", "suv": "car", "hatchback": "car", "coupe": "car"}
# surfaces asked about by colour ("what colour is the floor"): a band of the frame, top to bottom
REGIONS = {"floor": "bottom", "ground": "bottom", "road": "bottom", "pavement": "bottom", "grass": "bottom",
           "carpet": "bottom", "street": "bottom", "sky": "top", "ceiling": "top", "wall": "middle",
           "walls": "middle", "background": "middle"}
# places, by what is in them (asked about; never listed as a thing seen)
SCENES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "playground": ((), ("swing",)),
    "street": (("car", "bus", "truck", "traffic light", "bicycle", "motorcycle"),
               ("cab", "minivan", "streetcar", "traffic light", "street sign", "parking meter", "moving van")),
    "road": (("car", "bus", "truck", "traffic light"), ("cab", "minivan", "traffic light", "street sign")),
    "beach": (("surfboard", "umbrella"), ("seashore", "sandbar", "lakeside")),
    "kitchen": (("oven", "microwave", "refrigerator", "sink", "toaster"), ("refrigerator", "microwave", "stove")),
    "office": (("laptop", "keyboard", "mouse", "tv"), ("desk", "desktop computer", "monitor", "notebook")),
    "park": (("bench",), ("park bench", "swing")),
    "field": (("sports ball",), ("soccer ball",)),
}
# nouns that mean "a person" (or people), as asked
PERSON_WORDS = frozenset((
    "person", "people", "persons", "man", "men", "woman", "women", "child", "children", "kid", "kids", "boy",
    "boys", "girl", "girls", "baby", "babies", "toddler", "someone", "somebody", "anyone", "anybody", "pedestrian",
    "pedestrians", "human", "humans", "adult", "adults", "player", "players", "driver", "drivers", "cyclist",
    "cyclists", "rider", "riders", "guy", "guys", "lady", "ladies", "he", "she", "him", "her", "they", "individual",
    "passenger", "passengers", "father", "mother", "dad", "mom", "parent", "parents", "crowd",
    "his", "their", "hers",
))
# person words that name a kind of person (age, sex, family role): a person box answers a question that
# presupposes one ("when did the man leave"), but does not show that one was there ("was there an adult?"):
# on the tuning half a person box said yes rightly to 3 of 5 such questions, short of the 90 % a sighting needs
PERSON_KINDS = frozenset((
    "man", "woman", "child", "kid", "boy", "girl", "baby", "toddler", "adult", "guy", "lady", "father", "mother",
    "dad", "mom", "parent",
))
ALIASES = {
    "bike": "bicycle", "bikes": "bicycle", "cycle": "bicycle", "motorbike": "motorcycle", "scooter": "motorcycle",
    "moped": "motorcycle", "cab": "taxi", "automobile": "car", "auto": "car", "lorry": "truck", "kitten": "cat",
    "puppy": "dog", "television": "tv", "monitor": "tv", "cellphone": "phone", "smartphone": "phone",
    "mobile": "phone", "mug": "cup", "couch": "sofa", "desk": "table", "laptop": "computer", "streetcar": "tram",
    "plane": "airplane", "aeroplane": "airplane", "ship": "boat", "handbag": "bag", "backpack": "bag",
    "rucksack": "bag", "suitcase": "bag", "football": "ball", "soccer": "ball", "necktie": "tie",
    "bow tie": "tie", "missile": "rocket", "animals": "animal",
    "cell phone": "phone", "mobile phone": "phone", "dining table": "table", "sports ball": "ball",
    "potted plant": "plant",
}
# words that may close a subject phrase without naming a thing ("a dog yet", "the car outside"): a known
# word before them still names what is asked (see LiteRecognizer.concept: a known word before an unknown
# noun is only its modifier, "football goal")
NOT_NOUNS = frozenset((
    "yet", "again", "today", "there", "here", "outside", "inside", "nearby", "around", "anywhere", "somewhere",
    "now", "before", "earlier", "recently", "lately", "then", "too", "also", "ever", "once", "twice", "first",
    "last", "alone", "together", "away", "back", "over", "under", "above", "below", "behind", "near", "left",
    "right", "ahead", "down", "up", "off", "on", "in", "at", "by", "of", "with", "the", "a", "an", "and", "or",
    "any", "some", "all", "both", "each", "this", "that", "these", "those", "one", "two", "three", "many",
    "moving", "parked", "passing", "standing", "sitting", "walking", "running", "driving",
))
# ImageNet synonyms and head nouns that mostly mean something else in a question: "light" is a lamp, a sign's
# light or daylight far more often than ImageNet's "lighter, light, igniter" ("the sign's light came on") or the
# head of its "traffic light"
MISLEADING_SYNONYMS = frozenset(("light",))
# ImageNet class-index ranges of groups the table above names by a range rather than by names
IMAGENET_RANGES = {"dog": (151, 268), "bird": (7, 24), "animal": (0, 397)}
# a COCO class's one name in answers: the word whose own class it is ("cell phone" is a "phone")
COCO_WORD = {}
for _word, (_coco, _) in CONCEPTS.items():
    if len(_coco) == 1 and _word not in NARROWER_THAN_BOX and _word not in GENERIC:
        COCO_WORD.setdefault(_coco[0], _word)


def singular(word: str) -> str:
    """A noun's singular from the lexicon (answering.phrases.noun_lemma): buses, knives, mice."""
    w = word.lower()
    if w in PERSON_WORDS or w in CONCEPTS or w in SCENES or w in ALIASES or w in NARROWER:
        return w
    return noun_lemma(w)
