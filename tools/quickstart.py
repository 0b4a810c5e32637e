"""The README's quick start: log a few runs under ./mlruns and print what was recorded.

Run it with ``python tools/quickstart.py`` after ``pip install .``.
"""

from litexp import R

with R.start(experiment_name="alpha", uri="file:./mlruns"):
    R.log_params(model="lgbm", lr=0.05)
    for step in range(3):
        R.log_metrics(step=step, ic=0.01 * step, loss=1.0 / (step + 1))
    R.set_tags(owner="me")
    R.save_objects(pred={"a": 1}, **{"params.pkl": [1, 2]})
    rid = R.get_recorder().id
rec = R.get_recorder(recorder_id=rid, experiment_name="alpha")
assert rec.load_object("pred") == {"a": 1}
print(rec.list_metrics(), rec.list_params(), rec.status)
print(R.search_records([R.get_exp(experiment_name="alpha").id]))
print(f"\nNext: `litexp runs alpha`, `litexp show {rid[:8]}`, `litexp report alpha -o report.html`.")
