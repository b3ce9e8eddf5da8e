"""Recommender engines: pure NumPy/SciPy/Surprise code, arrays in and results out.

Nothing here knows about Flask, Celery or the database; `tasks/` loads the rows,
calls these engines and stores what they return.
"""
