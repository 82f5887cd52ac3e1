"""The pages, by what they are for: public.py (the libraries, signing in and out, the
language), account.py (My Account and changes), recovery.py (forgotten secrets,
first-time set-up, one-time links), errors.py (error pages)."""
