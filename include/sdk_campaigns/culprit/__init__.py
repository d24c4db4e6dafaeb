"""The culprit finder: bisecting an SDK's break between a passing and a failing commit to the first
bad commit, one Batch job per step (docs/culprit-finder.md). bisect.py is the pure search; request,
commits, steps, lock and records its parts; operator.py and finder.py the DAG's task bodies;
breaks.py what the campaign starts it for."""
