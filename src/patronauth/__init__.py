"""PatronAuth: the patron account and credential service behind a library's My Account."""

__version__ = "0.1.0"
