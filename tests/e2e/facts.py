"""Facts the tests teach their bots, each with a question only it answers and the words that prove it.

The two island facts are close in meaning on purpose: if one bot's vectors leaked into another's
search, the other fact would be retrieved and cited.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Fact:
    file_name: str
    text: str
    question: str
    answer_words: str


LIGHTHOUSE = Fact(
    file_name="lighthouse.txt",
    text="The lighthouse keeper of Vardø island feeds her three cats smoked herring every Thursday.",
    question="What does the lighthouse keeper feed her cats?",
    answer_words="smoked herring",
)
FERRY = Fact(
    file_name="ferry.txt",
    text="The ferry captain of Lindholm island gives his two dogs boiled mackerel every Sunday.",
    question="What does the ferry captain give his dogs?",
    answer_words="boiled mackerel",
)
BAKERY = Fact(
    file_name="bakery.txt",
    text="The Kestrel Lane bakery bakes its rye sourdough with caraway seeds at dawn every Monday.",
    question="Which seeds does the Kestrel Lane bakery put in its rye sourdough?",
    answer_words="caraway seeds",
)
