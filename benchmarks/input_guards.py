"""What the input guards cost (issue 8). Prints one line per figure; run with
``.venv/bin/python benchmarks/input_guards.py``.

- the ``before_flush`` text check of every String/Text column, per new row (every write pays
  it, the importer ten thousand times a file);
- the JSON body guard (depth scan and the cheap test for refused characters) on a 1 MB body,
  against ``json.loads`` alone;
- a company template in the bounded sandbox against Jinja's plain sandbox (a loop of 100,000
  iterations).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable


def median_ms(fn: Callable[[], object], repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    from jinja2.sandbox import SandboxedEnvironment

    from carebiz import create_app
    from carebiz.crm.models import Party
    from carebiz.documents.limits import LimitedSandbox
    from carebiz.text import check_text_columns, load_json, may_hold_bad_text

    app = create_app({"CAREBIZ_INSTANCE_PATH": tempfile.mkdtemp(), "SECRET_KEY": "bench",
                      "CAREBIZ_DATABASE_URL": "sqlite://", "CAREBIZ_JOB_QUEUE": "inline"})
    with app.app_context():
        sess = app.extensions["carebiz"].session_factory()
        for i in range(10_000):
            sess.add(Party(name=f"Person {i}", name_key=f"person{i}", branch_id=1,
                           city="Shanghai", street="Road 1", notes="a note"))
        ms = median_ms(lambda: check_text_columns(sess))
        print(f"text check before flush, 10,000 new customers: {ms:.1f} ms "
              f"({ms / 10:.1f} us a row)")
        sess.close()

        body = json.dumps([{"name": f"Person {i}", "tags": ["a", "b"], "notes": "x" * 40}
                           for i in range(10_000)])
        plain = median_ms(lambda: json.loads(body))
        guarded = median_ms(lambda: (load_json(body), may_hold_bad_text(body)))
        print(f"JSON body of {len(body) / 1e6:.1f} MB: json.loads {plain:.1f} ms, "
              f"guarded {guarded:.1f} ms")

        source = "{% for i in range(100000) %}{{ i }}{% endfor %}"
        stock = SandboxedEnvironment().from_string(source)
        limited_env = LimitedSandbox()
        limited = limited_env.from_string(source)
        print(f"template loop of 100,000: stock sandbox {median_ms(stock.render, 3):.0f} ms, "
              f"bounded {median_ms(lambda: limited_env.render_limited(limited, {}), 3):.0f} ms")


if __name__ == "__main__":
    main()
