"""The simulated CAMB.AI catalogue: its languages, voices and the fake glossary translation.

Split from `camb` so that module holds the API's handlers and task flows, while this one holds
the data those serve (CAMB's own language ids, the published voices, the word-by-word glossary
the simulator "translates" with) and the description rule text-to-voice checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MIN_DESCRIPTION_WORDS = 18
MIN_DESCRIPTION_CHARS = 100


@dataclass(frozen=True)
class Language:
    id: int  # CAMB's own ids (camb-ai's SDK `Languages` enum)
    language: str
    short_name: str
    source: bool = True  # in /source-languages (every language is in /target-languages)


LANGUAGES = (
    Language(1, "English (United States)", "en-us"),
    Language(35, "English (United Kingdom)", "en-gb"),
    Language(54, "Spanish (Spain)", "es-es"),
    Language(58, "Spanish (Mexico)", "es-mx"),
    Language(76, "French (France)", "fr-fr"),
    Language(31, "German (Germany)", "de-de"),
    Language(87, "Italian (Italy)", "it-it"),
    Language(111, "Portuguese (Brazil)", "pt-br"),
    Language(112, "Portuguese (Portugal)", "pt-pt"),
    Language(114, "Russian (Russia)", "ru-ru"),
    Language(88, "Japanese (Japan)", "ja-jp"),
    Language(94, "Korean (South Korea)", "ko-kr"),
    Language(139, "Chinese (Mandarin, Simplified)", "zh-cn"),
    Language(16, "Arabic (Saudi Arabia)", "ar-sa"),
    Language(81, "Hindi (India)", "hi-in"),
    Language(108, "Dutch (Netherlands)", "nl-nl"),
    Language(109, "Polish (Poland)", "pl-pl"),
    Language(131, "Turkish (Turkey)", "tr-tr"),
    Language(122, "Swedish (Sweden)", "sv-se"),
    Language(136, "Vietnamese (Vietnam)", "vi-vn"),
    Language(85, "Indonesian (Indonesia)", "id-id", source=False),
    Language(132, "Ukrainian (Ukraine)", "uk-ua", source=False),
    Language(32, "Greek (Greece)", "el-gr", source=False),
    Language(26, "Czech (Czechia)", "cs-cz", source=False),
    Language(71, "Finnish (Finland)", "fi-fi", source=False),
    Language(28, "Danish (Denmark)", "da-dk", source=False),
)
BY_ID = {language.id: language for language in LANGUAGES}

GENDER_MALE, GENDER_FEMALE = 1, 2


@dataclass(frozen=True)
class Voice:
    id: int
    voice_name: str
    gender: int  # CAMB's codes: 0 not known, 1 male, 2 female, 9 not applicable
    age: int | None
    language: int
    variant: str  # espeak-ng voice variant: each voice its own timbre
    description: str | None = None
    signed_url: str | None = None
    published: bool = True  # the catalogue's voices; a kept voice stays private

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "voice_name": self.voice_name,
            "gender": self.gender,
            "age": self.age,
            "language": self.language,
            "description": self.description,
            "is_published": self.published,
            "signed_url": self.signed_url,
        }


VOICES = (
    Voice(147320, "Ava", GENDER_FEMALE, 30, 1, "f3"),
    Voice(147321, "Liam", GENDER_MALE, 35, 1, "m3"),
    Voice(147335, "Harriet", GENDER_FEMALE, 55, 35, "f4"),
    Voice(147354, "Mateo", GENDER_MALE, 28, 54, "m2"),
    Voice(147376, "Camille", GENDER_FEMALE, 32, 76, "f2"),
    Voice(147331, "Jonas", GENDER_MALE, 45, 31, "m7"),
    Voice(147388, "Yuki", GENDER_FEMALE, 25, 88, "f1"),
    Voice(147381, "Arjun", GENDER_MALE, 40, 81, "m1"),
)

# The simulator's whole "translation": English words → target words (documented above).
GLOSSARY = {
    "es": {
        "hello": "hola",
        "good": "buenos",
        "morning": "días",
        "night": "noches",
        "thanks": "gracias",
        "friend": "amigo",
        "world": "mundo",
        "water": "agua",
        "today": "hoy",
        "yes": "sí",
        "no": "no",
        "the": "el",
    },
    "fr": {
        "hello": "bonjour",
        "good": "bon",
        "morning": "matin",
        "night": "nuit",
        "thanks": "merci",
        "friend": "ami",
        "world": "monde",
        "water": "eau",
        "today": "aujourd'hui",
        "yes": "oui",
        "no": "non",
        "the": "le",
    },
    "de": {
        "hello": "hallo",
        "good": "guten",
        "morning": "Morgen",
        "night": "Nacht",
        "thanks": "danke",
        "friend": "Freund",
        "world": "Welt",
        "water": "Wasser",
        "today": "heute",
        "yes": "ja",
        "no": "nein",
        "the": "die",
    },
    "it": {
        "hello": "ciao",
        "good": "buon",
        "morning": "giorno",
        "night": "notte",
        "thanks": "grazie",
        "friend": "amico",
        "world": "mondo",
        "water": "acqua",
        "today": "oggi",
        "yes": "sì",
        "no": "no",
        "the": "il",
    },
    "pt": {
        "hello": "olá",
        "good": "bom",
        "morning": "dia",
        "night": "noite",
        "thanks": "obrigado",
        "friend": "amigo",
        "world": "mundo",
        "water": "água",
        "today": "hoje",
        "yes": "sim",
        "no": "não",
        "the": "o",
    },
}
WORD = re.compile(r"[A-Za-z']+")


def translate(text: str, short_name: str) -> str:
    """The simulator's documented fake translation: a word-by-word glossary lookup."""
    table = GLOSSARY.get(short_name.split("-")[0], {})

    def swap(match: re.Match) -> str:
        word = match.group(0)
        new = table.get(word.lower())
        if new is None:
            return word
        return new[:1].upper() + new[1:] if word[:1].isupper() else new

    return WORD.sub(swap, text)


def voice_description_problem(description: str) -> str | None:
    """Why CAMB would not process this description (its documented minimum), or None."""
    words, chars = len(description.split()), len(description.strip())
    if words < MIN_DESCRIPTION_WORDS or chars < MIN_DESCRIPTION_CHARS:
        return (
            f"voice_description has {words} words and {chars} characters; at least "
            f"{MIN_DESCRIPTION_WORDS} words ({MIN_DESCRIPTION_CHARS}+ characters) are required."
        )
    return None


__all__ = [
    "Language",
    "LANGUAGES",
    "BY_ID",
    "GENDER_MALE",
    "GENDER_FEMALE",
    "Voice",
    "VOICES",
    "GLOSSARY",
    "WORD",
    "translate",
    "voice_description_problem",
    "MIN_DESCRIPTION_WORDS",
    "MIN_DESCRIPTION_CHARS",
]
