"""A safety probe beside benchmarks/tracing.py: leaked texts that are partly or wholly
from nobody we sent the notice to, where only the true source may ever be named.

    .venv/bin/python benchmarks/tracing_outside.py --recipients 1000 [--samples 150]

Kinds, in turn: a 30% and a 50% excerpt of a decoy (a copy worded from a secret nobody's
copy used: nobody may be named), and a real copy mixed sentence by sentence with a decoy
(a leaker mixing their copy with their own rewording: only they may be named). Prints
    tracing_outside recipients=N samples=S named=… named_wrongly=…
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from benchmarks import tracing as bench  # noqa: E402
from benchmarks.scratch import django_scratch_run  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=150)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    return django_scratch_run(lambda: _run(args), var_dir=bench.VAR_DIR)


def _run(args) -> int:
    from leaks.selectors import leak_trace

    case, notice, deliveries = bench.build(args.recipients)
    copies = bench.copies_render(deliveries)
    rng = random.Random(args.seed)
    named_any = named_wrong = 0
    for sample in range(args.samples):
        target = rng.choice(deliveries)
        decoy = bench.decoy_text(notice, target)
        kind = sample % 3
        if kind == 0:
            text, allowed = bench.excerpt(decoy, 0.3, rng), set()
        elif kind == 1:
            text, allowed = bench.excerpt(decoy, 0.5, rng), set()
        else:
            text, allowed = bench.mixture(copies[target.pk], decoy), {target.pk}
        named = {row.delivery.pk for row in leak_trace(vulnerability=case, text=text).named}
        named_any += bool(named)
        named_wrong += bool(named - allowed)
    print(
        f"tracing_outside recipients={args.recipients} samples={args.samples} "
        f"named={named_any} named_wrongly={named_wrong}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
