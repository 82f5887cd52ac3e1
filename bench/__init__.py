"""`make bench`: the performance figures of SPEC 6 (P1-P5 in docs/requirements.md),
measured on this machine.

Run from the checkout root as `python -m bench`. Every figure is bounded in count and
time, uses only loopback servers, and is reported against its target with a ratio;
the table is printed and written to `bench/results/latest.json`.
"""
