"""Pages of the embargo app, one module per audience: the security team's cases and
notices (under /staff/, where the MFA middleware applies), a recipient's acknowledgement,
and the public advisories and team key."""
