"""Forms of the membership pages, one module per concept."""
