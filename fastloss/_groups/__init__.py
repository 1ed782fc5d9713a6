"""Loss groups: each module holds the table entries (``SPECS``) and the preparations of
one family of losses; ``fastloss._registry`` joins them into the loss table."""
