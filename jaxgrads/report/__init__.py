"""Reading results: the numbers behind findings (analysis), the markdown report (markdown, findings)
and the figures (plots, drawing only)."""

__all__ = []
