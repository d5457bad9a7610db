"""Pairs for measuring activations (the ranges of activation smoothing and of int8 quantisation): short,
everyday (query, passage) pairs on mixed topics; not a score calibration (that is `crossrank.calibration`).

Smoothing only needs to find which hidden channels run far larger than the rest; in BERT-family encoders
those channels are a property of the model, visible on any text, so a small fixed set does (written for
crossrank; no test collection text).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from crossrank.batching import concat, pad_batch, plan_batches
from crossrank.tokenization import PairEncoder, load_tokenizer

PAIRS: tuple[tuple[str, str], ...] = (
    (
        "how do vaccines train the immune system",
        "A vaccine shows the immune system a harmless piece of a pathogen, so that memory cells are ready to "
        "produce antibodies quickly if the real infection ever arrives.",
    ),
    (
        "best way to store fresh basil",
        "Trim the stems and keep basil in a glass of water on the counter, loosely covered; the fridge turns "
        "the leaves black within a day or two.",
    ),
    (
        "why is the sky blue",
        "Sunlight is scattered by the molecules of the air, and short blue wavelengths scatter far more than "
        "red ones, so blue light reaches our eyes from every direction.",
    ),
    (
        "python list comprehension with condition",
        "Write [x * 2 for x in values if x > 0] to double only the positive numbers; the condition filters "
        "items before the expression is applied.",
    ),
    (
        "symptoms of iron deficiency anaemia",
        "Tiredness, pale skin, shortness of breath and cold hands are common signs when the blood carries too "
        "little haemoglobin.",
    ),
    (
        "who painted the ceiling of the Sistine Chapel",
        "Michelangelo painted the chapel's ceiling between 1508 and 1512 at the request of Pope Julius II.",
    ),
    (
        "how much does a used electric car battery cost to replace",
        "Replacing a battery pack can cost from 5,000 to 15,000 dollars, though most packs outlast the "
        "eight-year warranty.",
    ),
    (
        "effect of interest rates on inflation",
        "When a central bank raises rates, borrowing gets dearer, spending and investment slow down, and "
        "price growth tends to ease over the following year or two.",
    ),
    (
        "what is the capital of Australia",
        "Sydney is the largest city in Australia, famous for its harbour, its bridge and its opera house.",
    ),
    (
        "tips for a first marathon",
        "Build mileage slowly, keep most runs easy, practise eating during long runs and taper for two or "
        "three weeks before the race.",
    ),
    (
        "difference between a virus and a bacterium",
        "Bacteria are living cells that can reproduce on their own; viruses are much smaller and must enter "
        "a host cell to copy themselves.",
    ),
    (
        "how to reset a forgotten router password",
        "Hold the reset button on the back for about ten seconds; the router restarts with the factory "
        "password printed on its label.",
    ),
    (
        "causes of the French Revolution",
        "Debt from foreign wars, bad harvests, high bread prices and resentment of the nobility's privileges "
        "brought France to revolt in 1789.",
    ),
    (
        "is coffee bad for your heart",
        "The recipe needs two cups of flour, a teaspoon of baking soda, butter, sugar and three ripe bananas.",
    ),
    (
        "how does a heat pump work in winter",
        "A heat pump moves heat rather than making it: a refrigerant absorbs warmth from outside air even "
        "below freezing and releases it indoors after compression.",
    ),
    (
        "SQL query to count rows per group",
        "SELECT city, COUNT(*) FROM customers GROUP BY city; returns one row per city with its number of customers.",
    ),
)


# Pairs the optimiser's quality guard scores (`crossrank.export.optimize`): written for crossrank like `PAIRS`,
# on other topics, and never used to fit anything; each query meets every passage, so each has 24 candidates.
HELD_OUT: tuple[tuple[str, str], ...] = (
    (
        "how long should bread dough rise",
        "Most yeast doughs need one to two hours at room temperature to double in size; a cool kitchen slows "
        "the yeast, and an overnight rise in the fridge gives a deeper flavour.",
    ),
    (
        "why do cats purr",
        "Cats purr when content but also when hurt or frightened; the vibration comes from the muscles of the "
        "larynx and may help them calm down and even heal.",
    ),
    (
        "what causes tides",
        "The Moon's gravity pulls the oceans into a bulge on the side facing it and another on the far side, so "
        "most coasts see two high tides and two low tides each day.",
    ),
    (
        "how to remove a red wine stain from carpet",
        "Blot the spill at once without rubbing, pour a little cold water on it, then cover it with a paste of "
        "baking soda and water and vacuum it once it has dried.",
    ),
    (
        "what is a mortgage offset account",
        "An offset account is a savings account linked to a home loan: its balance is subtracted from the loan "
        "before interest is charged, so savings cut the interest you pay.",
    ),
    (
        "when did the Berlin Wall fall",
        "On the night of 9 November 1989 East German border guards opened the crossings, and crowds began to "
        "tear down the wall that had divided Berlin since 1961.",
    ),
    (
        "how many hours of sleep do teenagers need",
        "Sleep researchers advise eight to ten hours a night for teenagers, whose body clocks shift later in "
        "puberty, which is why early school starts leave many of them tired.",
    ),
    (
        "git undo last commit but keep changes",
        "Run git reset --soft HEAD~1 to move the branch back one commit while keeping its changes staged; "
        "use --mixed to keep them in the working tree but unstaged.",
    ),
    (
        "how do solar panels make electricity",
        "Photons striking a silicon cell knock electrons loose, and the electric field at the junction between "
        "two doped layers pushes them into a current that an inverter turns into household power.",
    ),
    (
        "signs of dehydration in older adults",
        "Confusion, dizziness, a dry mouth, dark urine and constipation can mean an older person is drinking "
        "too little; thirst itself often fades with age.",
    ),
    (
        "what does a product manager do",
        "A product manager decides what a team builds and why: talking to customers, weighing requests against "
        "the company's goals and writing the priorities that engineers and designers follow.",
    ),
    (
        "how to grow tomatoes in pots",
        "Choose a container of at least twenty litres, give the plants six or more hours of sun, water deeply "
        "whenever the top of the soil is dry and feed them weekly once flowers appear.",
    ),
    (
        "why do leaves change colour in autumn",
        "As days shorten, trees stop making chlorophyll, and the yellow and orange pigments that were there all "
        "summer show through; reds come from new pigments made in the fading leaves.",
    ),
    (
        "what is the speed of sound in air",
        "Sound travels at about 343 metres per second in dry air at 20 degrees Celsius, a little faster in warm "
        "air and slower in cold.",
    ),
    (
        "how to calculate compound interest",
        "Multiply the principal by one plus the rate per period, raised to the number of periods: a thousand "
        "pounds at five percent a year for ten years grows to about 1,629 pounds.",
    ),
    (
        "who wrote Pride and Prejudice",
        "Jane Austen's novel was published in 1813; it follows Elizabeth Bennet and her sisters as their mother "
        "tries to marry them to men of fortune.",
    ),
    (
        "symptoms of a concussion",
        "Headache, nausea, blurred vision, trouble remembering what happened and feeling slowed down are common "
        "after a blow to the head; symptoms can appear hours later.",
    ),
    (
        "how does a bill become law in the United States",
        "A bill must pass both the House and the Senate in the same form and then be signed by the President, "
        "who may veto it; Congress can override a veto with two-thirds of each chamber.",
    ),
    (
        "best time of day to water a lawn",
        "Water early in the morning, when it is cool and still, so the water soaks in before it evaporates and "
        "the grass dries during the day, which keeps fungal disease away.",
    ),
    (
        "what is machine learning overfitting",
        "A model overfits when it learns the noise of its training data as if it were a pattern: it scores well "
        "on the examples it saw and badly on new ones.",
    ),
    (
        "how far is the moon from earth",
        "The Moon orbits at an average distance of about 384,400 kilometres, closer at perigee and farther at "
        "apogee, and it drifts away by nearly four centimetres a year.",
    ),
    (
        "how to get rid of fruit flies in the kitchen",
        "The new stadium will seat sixty thousand fans and is due to open before the start of next season, "
        "according to the club's owners.",
    ),
    (
        "what are the rules of chess castling",
        "Castling moves the king two squares towards a rook and the rook to the square the king crossed; it is "
        "allowed only if neither piece has moved and the king is not in, through or into check.",
    ),
    (
        "how do noise cancelling headphones work",
        "Microphones on the ear cups pick up outside sound, and the headphones play the same wave inverted, so "
        "the two cancel out; it works best on steady low hums such as engine noise.",
    ),
)


def activation_feeds(folder: Path) -> list[dict[str, np.ndarray]]:
    """`PAIRS` tokenized with the model's own tokenizer and window, as padded batches of 8."""
    return [feed for _, feed in pair_feeds(folder, [(query, [passage]) for query, passage in PAIRS], batch_size=8)]


def crossed(pairs: Sequence[tuple[str, str]], *, joined: bool) -> list[tuple[str, list[str]]]:
    """Each query of `pairs` with every passage as its candidates (one relevant, the rest not: what a reranker
    sees), and with `joined` also each passage followed by the next, for the lengths of longer documents."""
    passages = [passage for _, passage in pairs]
    if joined:
        passages += [f"{a} {b}" for a, b in zip(passages, passages[1:] + passages[:1], strict=True)]
    return [(query, passages) for query, _ in pairs]


def pair_feeds(
    folder: Path, queries: Sequence[tuple[str, Sequence[str]]], *, batch_size: int = 16, token_budget: int = 4096
) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """(query, candidates) tokenized with the model's own tokenizer and window, as padded batches of similar
    length, each with the positions (in query, then candidate order) of the pairs it holds."""
    from crossrank.models import read_spec

    encoder = PairEncoder(load_tokenizer(folder), max_length=read_spec(folder).max_length)
    encoded = [encoder.encode(query, list(candidates)) for query, candidates in queries]
    pairs = concat(encoded, [len(c) for _, c in queries])
    lengths = np.array([len(i) for i in pairs.ids], dtype=np.int64)
    batches = plan_batches(lengths, batch_size=batch_size, token_budget=max(token_budget, int(lengths.max())))
    return [(batch, pad_batch(pairs, batch, pad_id=encoder.pad_id)) for batch in batches]
