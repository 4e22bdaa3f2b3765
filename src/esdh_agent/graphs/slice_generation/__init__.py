"""The slice-generation graph: plan → policy gate → generate → validate → critics → commit."""
