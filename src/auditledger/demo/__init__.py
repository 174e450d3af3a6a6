"""A realistic demo organization: for `serve --demo`, screenshots and benchmark data."""
