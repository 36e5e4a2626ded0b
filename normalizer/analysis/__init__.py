"""The analysis API: measuring and building data from the rules (see each module)."""
