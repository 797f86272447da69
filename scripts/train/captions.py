"""Caption vocabulary, templates and the held-out evaluation prompts of the reel-tiny world.

Training captions come from TRAIN_TEMPLATES; the evaluation prompts use EVAL_TEMPLATES (sentence
structures never seen in training) and HELD_OUT_COMBOS (colour, shape, motion triples never
rendered in training). docs/world.md lists all of it.
"""
import itertools
import random

from world import BACKGROUNDS, COLOURS, MOTIONS, SHAPES, SIZES

COLOUR_WORDS = {
    "red": ["red", "crimson", "scarlet"],
    "orange": ["orange", "tangerine", "amber"],
    "yellow": ["yellow", "golden", "lemon"],
    "green": ["green", "lime", "bright green"],
    "cyan": ["cyan", "turquoise", "aqua"],
    "blue": ["blue", "royal blue", "cobalt"],
    "purple": ["purple", "violet", "plum"],
    "pink": ["pink", "magenta", "hot pink"],
}

SHAPE_WORDS = {
    "circle": ["ball", "circle", "disc", "dot", "sphere", "orb"],
    "square": ["square", "box", "block", "cube", "tile"],
    "triangle": ["triangle", "pyramid", "wedge", "triangular shape"],
}

SIZE_WORDS = {
    "small": ["small", "little", "tiny"],
    "big": ["big", "large", "huge", "giant"],
}

# (third person present, present participle) pairs.
MOTION_WORDS = {
    "left": [("moves left", "moving left"), ("rolls to the left", "rolling to the left"),
             ("drifts to the left", "drifting to the left"), ("slides leftward", "sliding leftward"),
             ("travels from right to left", "travelling from right to left"), ("heads left", "heading left")],
    "right": [("moves right", "moving right"), ("rolls to the right", "rolling to the right"),
              ("drifts to the right", "drifting to the right"), ("slides rightward", "sliding rightward"),
              ("travels from left to right", "travelling from left to right"), ("heads right", "heading right")],
    "up": [("rises", "rising"), ("floats upward", "floating upward"), ("moves up", "moving up"),
           ("drifts up", "drifting up"), ("climbs", "climbing"), ("ascends", "ascending")],
    "down": [("falls", "falling"), ("sinks", "sinking"), ("moves down", "moving down"),
             ("drifts downward", "drifting downward"), ("descends", "descending"), ("drops", "dropping")],
    "bounce": [("bounces", "bouncing"), ("bounces up and down", "bouncing up and down"), ("hops", "hopping"),
               ("keeps bouncing", "bouncing over and over"), ("jumps up and down", "jumping up and down")],
    "circle": [("moves in a circle", "moving in a circle"), ("circles around", "circling around"),
               ("goes round in circles", "going round in circles"), ("orbits", "orbiting"),
               ("travels in a loop", "travelling in a loop")],
    "grow": [("grows", "growing"), ("gets bigger", "getting bigger"), ("expands", "expanding"),
             ("swells", "swelling"), ("grows larger", "growing larger")],
    "shrink": [("shrinks", "shrinking"), ("gets smaller", "getting smaller"), ("contracts", "contracting"),
               ("dwindles", "dwindling"), ("shrinks down", "shrinking down")],
    "still": [("stays still", "staying still"), ("sits motionless", "sitting motionless"),
              ("does not move", "not moving"), ("rests", "resting"), ("remains stationary", "remaining stationary")],
}

# (prepositional phrase ending a sentence, phrase leading a sentence).
BACKGROUND_WORDS = {
    "grass": [("on green grass", "In a green field"), ("in a green field", "On the grass"),
              ("on a grassy meadow", "Across a meadow"), ("on the lawn", "On a green lawn")],
    "sky": [("in the blue sky", "In a blue sky"), ("against a clear blue sky", "High in the sky"),
            ("in the sky", "Under a clear sky"), ("up in the daytime sky", "In the daytime sky")],
    "night": [("at night", "At night"), ("in the night sky", "In the dark night sky"),
              ("against a dark night sky", "Late at night"), ("in the darkness", "In the darkness")],
    "sand": [("on the sand", "In the desert"), ("in the desert", "On a sandy beach"),
             ("on a sandy beach", "Over sand dunes"), ("over sand dunes", "On the sand")],
    "grey": [("on a grey background", "On a plain grey background"),
             ("against a plain gray backdrop", "Against a gray backdrop"),
             ("on a neutral grey wall", "In front of a grey wall")],
    "teal": [("against a teal gradient", "Against a teal gradient"),
             ("in front of a blue-green gradient", "On a blue-green gradient"),
             ("on a sea-green gradient backdrop", "In front of a teal backdrop")],
    "snow": [("on white snow", "In the snow"), ("in a snowy field", "On a white background"),
             ("against a white background", "Across a snowy field"), ("on a blank white backdrop", "On white snow")],
}

# Fields: {a} article + subject noun phrase, {does} present verb phrase, {doing} participle phrase,
# {where} trailing background phrase (may be empty), {Where} leading background phrase.
TRAIN_TEMPLATES = [
    "{a} {does} {where}",
    "{a} {doing} {where}",
    "{Where}, {a} {does}",
    "{Where}, {a} {doing}",
    "video of {a} {doing} {where}",
    "{a} that {does} {where}",
    "{subject} {doing} {where}",
    "footage of {a} {doing} {where}",
]
# Templates for {Where}-led sentences are only used when a background is named.
EVAL_TEMPLATES = [
    "there is {a} {doing} {where}",
    "we see {a} as it {does} {where}",
    "{Where} we watch {a} {doing}",
    "clip: {subject}, {doing}, {where}",
    "an animation in which {a} {does} {where}",
    "look, {a} {does} {where}!",
]

# (colour, shape, motion) triples never rendered or captioned in training.
HELD_OUT_COMBOS = [
    ("purple", "triangle", "circle"),
    ("cyan", "square", "bounce"),
    ("orange", "circle", "up"),
    ("pink", "triangle", "left"),
    ("yellow", "square", "shrink"),
    ("green", "triangle", "grow"),
    ("blue", "circle", "right"),
    ("red", "square", "down"),
]

ALL_COMBOS = [dict(zip(("background", "colour", "shape", "size", "motion"), c))
              for c in itertools.product(BACKGROUNDS, COLOURS, SHAPES, SIZES, MOTIONS)]
TRAIN_COMBOS = [c for c in ALL_COMBOS if (c["colour"], c["shape"], c["motion"]) not in HELD_OUT_COMBOS]


def article(next_word):
    """'an' before a vowel sound, else 'a'."""
    return "an" if next_word[0] in "aeiou" else "a"


def compose(template, attrs, rng, name_size, name_background):
    """One sentence for the clip attributes `attrs` from `template`, with random synonyms."""
    words = []
    if name_size:
        words.append(rng.choice(SIZE_WORDS[attrs["size"]]))
    words.append(rng.choice(COLOUR_WORDS[attrs["colour"]]))
    words.append(rng.choice(SHAPE_WORDS[attrs["shape"]]))
    subject = " ".join(words)
    does, doing = rng.choice(MOTION_WORDS[attrs["motion"]])
    where, lead = rng.choice(BACKGROUND_WORDS[attrs["background"]]) if name_background else ("", "")
    text = template.format(a=f"{article(subject)} {subject}", subject=subject, does=does, doing=doing,
                           where=where, Where=lead)
    text = " ".join(text.split()).replace(" !", "!").replace(" ,", ",").strip(" ,")
    return text[0].upper() + text[1:] if rng.random() < 0.5 else text


def random_caption(attrs, rng, templates):
    """A caption naming colour, shape and motion; size and background each named 65% of the time."""
    name_size = rng.random() < 0.65
    name_background = rng.random() < 0.65
    usable = [t for t in templates if name_background or "{Where}" not in t]
    text = compose(rng.choice(usable), attrs, rng, name_size, name_background)
    if rng.random() < 0.3:
        text += "."
    return text, name_size, name_background


def training_caption_bank(per_combo, seed):
    """For each training combo (in TRAIN_COMBOS order) a list of `per_combo` distinct captions."""
    rng = random.Random(seed)
    bank = []
    for attrs in TRAIN_COMBOS:
        captions = set()
        while len(captions) < per_combo:
            captions.add(random_caption(attrs, rng, TRAIN_TEMPLATES)[0])
        bank.append(sorted(captions))
    return bank


def evaluation_prompts(count, seed, forbidden):
    """`count` prompts never in `forbidden`: 2/3 from held-out templates on training combos,
    1/3 naming a held-out combo. Each prompt names colour, shape, motion; size and background
    sometimes. Returns dicts: text, colour, shape, motion, size (or None), background (or None),
    split ("held_out_template" or "held_out_combo")."""
    rng = random.Random(seed)
    prompts, seen = [], set(forbidden)
    held = count // 3
    while len(prompts) < count:
        combo_split = len(prompts) < held
        if combo_split:
            colour, shape, motion = HELD_OUT_COMBOS[len(prompts) % len(HELD_OUT_COMBOS)]
            attrs = {"colour": colour, "shape": shape, "motion": motion,
                     "size": rng.choice(list(SIZES)), "background": rng.choice(list(BACKGROUNDS))}
            templates = TRAIN_TEMPLATES + EVAL_TEMPLATES
        else:
            attrs = dict(rng.choice(TRAIN_COMBOS))
            templates = EVAL_TEMPLATES
        text, name_size, name_background = random_caption(attrs, rng, templates)
        if text in seen:
            continue
        seen.add(text)
        prompts.append({
            "text": text, "colour": attrs["colour"], "shape": attrs["shape"], "motion": attrs["motion"],
            "size": attrs["size"] if name_size else None,
            "background": attrs["background"] if name_background else None,
            "split": "held_out_combo" if combo_split else "held_out_template",
        })
    return prompts
