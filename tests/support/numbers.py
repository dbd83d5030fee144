"""Whether a text shows a phone number in any form it might be written: as typed, or its digits alone
(with or without a leading +). Random hex ids often hold a short run like "555", so nothing shorter than
the whole number's digits is looked for."""

from __future__ import annotations

import re


def shows(text: str, number: str) -> bool:
    digits = re.sub(r"\D", "", number)
    return number in text or digits in text or digits in re.sub(r"[ ()./-]", "", text)
