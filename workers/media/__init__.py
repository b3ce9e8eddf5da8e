"""Media engine: ffprobe checks, the HLS ladder plan and the one-pass ffmpeg transcode.

Pure like the other engines: paths, numbers and callbacks in, results out. Nothing
here knows about Flask, Celery, the database or object storage; `tasks/` downloads
the source, calls these functions with a temporary folder and uploads what they list.
"""
