"""CWE names for CSAF, which wants a weakness's id and its full name together.

Haulout keeps only the ids (Vulnerability.cwe_ids); the names below are copied from
MITRE's CWE list for the weaknesses most often reported (the CWE Top 25). An id not in
this table is not given a made-up name: CSAF's single cwe field is then left out, and
every id still appears in the vulnerability's notes and the OSV record."""

from __future__ import annotations

CWE_NAMES = {
    "CWE-20": "Improper Input Validation",
    "CWE-22": "Improper Limitation of a Pathname to a Restricted Directory ('Path Traversal')",
    "CWE-77": (
        "Improper Neutralization of Special Elements used in a Command ('Command Injection')"
    ),
    "CWE-78": (
        "Improper Neutralization of Special Elements used in an OS Command ('OS Command Injection')"
    ),
    "CWE-79": (
        "Improper Neutralization of Input During Web Page Generation ('Cross-site Scripting')"
    ),
    "CWE-89": (
        "Improper Neutralization of Special Elements used in an SQL Command ('SQL Injection')"
    ),
    "CWE-94": "Improper Control of Generation of Code ('Code Injection')",
    "CWE-119": "Improper Restriction of Operations within the Bounds of a Memory Buffer",
    "CWE-125": "Out-of-bounds Read",
    "CWE-190": "Integer Overflow or Wraparound",
    "CWE-200": "Exposure of Sensitive Information to an Unauthorized Actor",
    "CWE-269": "Improper Privilege Management",
    "CWE-287": "Improper Authentication",
    "CWE-306": "Missing Authentication for Critical Function",
    "CWE-352": "Cross-Site Request Forgery (CSRF)",
    "CWE-400": "Uncontrolled Resource Consumption",
    "CWE-416": "Use After Free",
    "CWE-434": "Unrestricted Upload of File with Dangerous Type",
    "CWE-476": "NULL Pointer Dereference",
    "CWE-502": "Deserialization of Untrusted Data",
    "CWE-787": "Out-of-bounds Write",
    "CWE-798": "Use of Hard-coded Credentials",
    "CWE-862": "Missing Authorization",
    "CWE-863": "Incorrect Authorization",
    "CWE-918": "Server-Side Request Forgery (SSRF)",
}


def cwe_entry(cwe_ids: list[str]) -> dict | None:
    """CSAF's {id, name} for the first of the case's weaknesses whose name we know."""
    for cwe_id in cwe_ids:
        name = CWE_NAMES.get(cwe_id.upper())
        if name:
            return {"id": cwe_id.upper(), "name": name}
    return None
