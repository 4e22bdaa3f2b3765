"""The requirements ledger: every checkable ask of a slice prompt, grounded in its words."""
