"""Runs: the pipeline (analyze, steer, reproduce -> Run), the run context, engines, the activation store,
run directories and the report."""
