"""Pairs for measuring activations (the ranges of activation smoothing and of int8 quantisation): short,
everyday (query, passage) pairs on mixed topics; not a score calibration (that is `crossrank.calibration`).

Smoothing only needs to find which hidden channels run far larger than the rest; in BERT-family encoders
those channels are a property of the model, visible on any text, so a small fixed set does (written for
crossrank; no test collection text).
"""

from __future__ import annotations

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


def activation_feeds(folder: Path) -> list[dict[str, np.ndarray]]:
    """The pairs tokenized with the model's own tokenizer and window, as padded batches."""
    from crossrank.models import read_spec

    encoder = PairEncoder(load_tokenizer(folder), max_length=read_spec(folder).max_length)
    pairs = concat([encoder.encode(query, [passage]) for query, passage in PAIRS], [1] * len(PAIRS))
    lengths = np.array([len(i) for i in pairs.ids], dtype=np.int64)
    return [
        pad_batch(pairs, batch, pad_id=encoder.pad_id)
        for batch in plan_batches(lengths, batch_size=8, token_budget=4096)
    ]
