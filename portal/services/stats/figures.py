"""What the statistics publish: breakdowns, figures and their names."""

from __future__ import annotations

from portal.labels import OUTSIDE_BODY_LABELS

# The breakdowns, in the order they are published. Each counts reports received in the
# period; all share one total except referrals (reports ever referred, by outside body).
BREAKDOWNS = ("status", "category", "service", "unit", "channel", "month", "referral")
GROUPS = {name: ("referrals" if name == "referral" else "reports") for name in BREAKDOWNS}
# Deadlines the inspectorate must meet (needs_info is the reporter's time to answer).
INSPECTORATE_STAGES = ("received", "verified", "in_progress")
DEADLINE_FIGURES = (*(f"deadline_{stage}" for stage in INSPECTORATE_STAGES), "deadline_all")
# Figures published alone, each over a number of reports that must reach k.
MEDIAN_FIGURES = ("verification", "completion")
SUM_FIGURES = ("demanded", "refunded")
FIGURES = MEDIAN_FIGURES + SUM_FIGURES + DEADLINE_FIGURES
MET, MISSED = "met", "missed"
TOTAL_KEY = "reports"

# Labels of the outside bodies a report may be referred to, keyed by their stored value.
REFERRAL_LABELS = {body.value: text for body, text in OUTSIDE_BODY_LABELS.items()}

# Rows read per round trip while streaming the status history during a rebuild.
HISTORY_BATCH = 20_000


class InvalidPeriod(ValueError):
    """A period that is not YYYY, YYYY-Qn or YYYY-MM, or lies in the future."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
