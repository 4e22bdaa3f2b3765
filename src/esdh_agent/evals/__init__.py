"""Measuring prompts and recordings: labelled critic cases, critic evaluation, the eval session,
templates at a git revision, and cassette check / record / prune."""
