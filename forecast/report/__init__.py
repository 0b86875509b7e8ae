"""PDF reports: a page builder, plotting functions, the run report and the comparison report."""
