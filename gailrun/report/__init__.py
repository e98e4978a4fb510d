"""Reports of runs and sweeps: figures, tables with intervals, report.md and a self-contained report.html."""

from gailrun.report.build import Report, build_report

__all__ = ["Report", "build_report"]
