"""PNG plots (matplotlib, Agg backend): training curves, Pareto fronts, per-class bars, examples."""
