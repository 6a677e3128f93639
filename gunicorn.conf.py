"""Gunicorn settings for production: no access log, since it would hold client addresses."""

bind = "127.0.0.1:8000"
workers = 2
accesslog = None
# If an access log is ever needed, it must not contain %(h)s or %(a)s.
access_log_format = '"%(r)s" %(s)s %(b)s %(L)s'
errorlog = "-"
