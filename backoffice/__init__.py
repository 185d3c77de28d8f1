"""The back office: receives sealed packets from terminals, keeps cases, serves the reviewers' console."""
