"""The cards app's models as pure code (ARCHITECTURE.md, "Where ML lives"): arrays and lists in, arrays and lists
out, no ORM. `features` turns visit and chat logs into time-windowed features at a moment, `intent` trains and
applies the calibrated intent score (and the points formula that stands in for it), `tags` reads interest tags
from what a visitor looked at and wrote. cards/services/intent.py and tags.py load the data and store results."""
