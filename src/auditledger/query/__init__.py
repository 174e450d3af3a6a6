"""Reading the log: filters parsed in one place, and one keyset query every renderer uses."""
